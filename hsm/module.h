// A PKCS#11 module loaded through p11-kit, and the move-only handles that live
// on it. Only hsm/ includes p11-kit; the rest of authd talks to KeyOps.
//
// Module is thread-safe once constructed: PKCS#11 functions are called with
// OS locking, and each Session is used by one thread at a time.
#ifndef AUTHD_HSM_MODULE_H_
#define AUTHD_HSM_MODULE_H_

#include <p11-kit/pkcs11.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace authd::hsm {

// The one place where CK_RV becomes a Status. `what` names the call.
Status RvToStatus(CK_RV rv, std::string_view what);
// True for the codes after which the session (or the whole login) is gone and
// a fresh session may succeed.
bool IsSessionLost(CK_RV rv);

class Module {
 public:
  // `name_or_path` is a p11-kit module name ("softhsm2") or a path to a
  // PKCS#11 library (anything containing '/'). Loads in p11-kit's managed
  // mode and initializes the module.
  static StatusOr<std::unique_ptr<Module>> Load(
      const std::string& name_or_path);

  // Copying would finalize the module twice.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  ~Module();

  CK_FUNCTION_LIST* fn() const { return fn_; }

  // Finds the one slot whose token matches an RFC 7512 URI.
  StatusOr<CK_SLOT_ID> FindSlot(const std::string& token_uri) const;

 private:
  explicit Module(CK_FUNCTION_LIST* fn) : fn_(fn) {}
  CK_FUNCTION_LIST* fn_;
};

// An open PKCS#11 session. Does not log out when closed: login state is shared
// by every session of the process (PKCS#11 §5.6), so one pooled session would
// log out all.
class Session {
 public:
  Session() = default;
  Session(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h) : fn_(fn), handle_(h) {}
  // Copying would close the session twice.
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  Session(Session&& other) noexcept { *this = std::move(other); }
  Session& operator=(Session&& other) noexcept;
  ~Session() { Close(); }

  static StatusOr<Session> Open(CK_FUNCTION_LIST* fn, CK_SLOT_ID slot);

  CK_SESSION_HANDLE handle() const { return handle_; }
  CK_FUNCTION_LIST* fn() const { return fn_; }
  bool valid() const { return fn_ != nullptr; }
  void Close() noexcept;

 private:
  CK_FUNCTION_LIST* fn_ = nullptr;
  CK_SESSION_HANDLE handle_ = CK_INVALID_HANDLE;
};

}  // namespace authd::hsm

#endif  // AUTHD_HSM_MODULE_H_
