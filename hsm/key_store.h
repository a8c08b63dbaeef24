// KeyStore: the objects authd keeps in the token, found by CKA_LABEL: the
// three fixed keys SPEC names (token signing, audit signing, pepper), the key
// ring's signing keys, and small CKO_DATA objects.
//
// Open finds the fixed keys and generates whichever is missing; key-ring
// pairs are generated on request. Private and secret keys are CKA_TOKEN,
// CKA_PRIVATE, CKA_SENSITIVE and not CKA_EXTRACTABLE (SPEC "Keys in the
// HSM").
//
// Object handles die with a logout (ours, or an HSM restart), so they are
// never cached across a re-login: Refresh finds every key again, checks each
// is the same key as before (same kid) and only then publishes the new
// handles. Readers take an immutable snapshot with Handles().
//
// Every call runs on a session the caller holds (see SessionPool) and
// returns what the token said; retrying and readiness are the caller's.
// Thread-safe.
#ifndef AUTHD_HSM_KEY_STORE_H_
#define AUTHD_HSM_KEY_STORE_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/public_key.h"
#include "common/status.h"
#include "hsm/key_ops.h"
#include "hsm/module.h"

namespace authd::hsm {

struct SigningHandle {
  CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
  Algorithm alg = Algorithm::kES256;
};

// Private-key (and pepper) handles valid for the current login.
struct KeyHandles {
  CK_OBJECT_HANDLE token_private = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE audit_private = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE pepper = CK_INVALID_HANDLE;
  std::map<std::string, SigningHandle> signing;  // key ring, by label
};

class KeyStore {
 public:
  // Finds the fixed keys on `h` (logged in), generating the missing ones;
  // `created` (optional) receives the labels of those generated.
  static StatusOr<std::unique_ptr<KeyStore>> Open(
      CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h,
      std::vector<std::string>* created);

  // One published set of handles per token: a copy would miss refreshes.
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  // Fixed at Open: Refresh refuses different keys.
  const PublicKey& Public(KeyUse use) const;
  // The current handles; never null.
  std::shared_ptr<const KeyHandles> Handles() const;

  // After a re-login: finds the fixed keys and every key-ring key loaded so
  // far again, checks they are the same keys (same kids) and publishes the
  // new handles. FailedPrecondition when a key has gone or changed.
  StatusOr<std::shared_ptr<const KeyHandles>> Refresh(CK_SESSION_HANDLE h);

  // Generates a key-ring pair (ES256: P-256, RS256: RSA-2048) with the
  // fixed keys' attributes. AlreadyExists when `label` has a private key.
  Status GenerateSigningKey(CK_SESSION_HANDLE h, const std::string& label,
                            Algorithm alg) const;
  // Finds the pair labelled `label`, adds its private key to the handles and
  // remembers its kid for Refresh. NotFound when absent.
  StatusOr<PublicKey> LoadSigningKey(CK_SESSION_HANDLE h,
                                     const std::string& label);

  // The values of every CKO_DATA object labelled `label`. Private objects
  // are invisible to a session that is not logged in: log in first.
  CK_RV ReadData(CK_SESSION_HANDLE h, const std::string& label,
                 std::vector<std::string>* values) const;
  // Creates a CKO_DATA object holding `value`, then destroys the older ones
  // labelled `label`.
  CK_RV WriteData(CK_SESSION_HANDLE h, const std::string& label,
                  std::string_view value) const;

  // For tests: boolean attribute `type` of the object `label` of class
  // `cls`; *value is NotFound when there is no such object (and CKR_OK is
  // returned).
  CK_RV BoolAttribute(CK_SESSION_HANDLE h, const std::string& label,
                      CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type,
                      StatusOr<bool>* value) const;

 private:
  KeyStore(CK_FUNCTION_LIST* fn, PublicKey token, PublicKey audit,
           std::shared_ptr<const KeyHandles> handles);

  CK_FUNCTION_LIST* const fn_;
  const PublicKey token_public_, audit_public_;
  std::atomic<std::shared_ptr<const KeyHandles>> handles_;
  // Held while publishing handles, so a key loaded during a Refresh is not
  // dropped from them.
  std::mutex signing_mu_;
  std::map<std::string, std::string> signing_kids_;  // label -> kid;
                                                     // GUARDED_BY(signing_mu_)
};

}  // namespace authd::hsm

#endif  // AUTHD_HSM_KEY_STORE_H_
