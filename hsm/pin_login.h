// PinLogin: logs this process in to the token as CKU_USER with the PIN from
// the configuration.
//
// PKCS#11 login state belongs to the process, not to a session: one C_Login
// serves every pooled session, and one logout (an HSM restart) ends it for
// all of them, so whichever session first sees CKR_USER_NOT_LOGGED_IN logs
// in again.
//
// A PIN the token rejected (CKR_PIN_INCORRECT, CKR_PIN_LOCKED) is never sent
// again: each try burns one of the token's few retries before it locks. The
// first rejection marks the HSM unready, saying how to get out of it.
//
// Thread-safe.
#ifndef AUTHD_HSM_PIN_LOGIN_H_
#define AUTHD_HSM_PIN_LOGIN_H_

#include <atomic>
#include <utility>

#include "common/secure_string.h"
#include "common/status.h"
#include "hsm/module.h"
#include "hsm/ready_state.h"

namespace authd::hsm {

class PinLogin {
 public:
  // `fn` and `ready` must outlive this object.
  PinLogin(CK_FUNCTION_LIST* fn, SecureString pin, ReadyState* ready)
      : fn_(fn), pin_(std::move(pin)), ready_(ready) {}
  // A copy would not know that the PIN was rejected, and send it again.
  PinLogin(const PinLogin&) = delete;
  PinLogin& operator=(const PinLogin&) = delete;

  // Logs in on `h`; Ok when the process is logged in already.
  Status LogIn(CK_SESSION_HANDLE h) { return Run(h, /*verify=*/false); }
  // As LogIn, but checks the PIN even when the process is logged in already
  // (by another user of the token in this process, so this PIN was never
  // checked): logs out and in again. For start-up only: the other users
  // must log in again too.
  Status Verify(CK_SESSION_HANDLE h) { return Run(h, /*verify=*/true); }

  bool pin_rejected() const { return rejected_.load(); }

 private:
  Status Run(CK_SESSION_HANDLE h, bool verify);
  CK_RV CallLogin(CK_SESSION_HANDLE h);

  CK_FUNCTION_LIST* const fn_;
  const SecureString pin_;
  ReadyState* const ready_;
  std::atomic<bool> rejected_{false};
};

}  // namespace authd::hsm

#endif  // AUTHD_HSM_PIN_LOGIN_H_
