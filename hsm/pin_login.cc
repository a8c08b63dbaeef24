#include "hsm/pin_login.h"

namespace authd::hsm {

CK_RV PinLogin::CallLogin(CK_SESSION_HANDLE h) {
  return fn_->C_Login(
      h, CKU_USER,
      reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(pin_.data())),
      pin_.size());
}

Status PinLogin::Run(CK_SESSION_HANDLE h, bool verify) {
  if (rejected_) {
    return Status::PermissionDenied(
        "the HSM rejected the PIN earlier; not trying again");
  }
  CK_RV rv = CallLogin(h);
  if (rv == CKR_USER_ALREADY_LOGGED_IN && verify) {
    // Other users of the token re-login on CKR_USER_NOT_LOGGED_IN.
    fn_->C_Logout(h);
    rv = CallLogin(h);
  }
  if (rv == CKR_USER_ALREADY_LOGGED_IN) return Status::Ok();
  Status st = RvToStatus(rv, "C_Login");
  if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED) {
    rejected_ = true;
    ready_->MarkUnready(st.message() +
                        "; not logging in again (that would burn the PIN's "
                        "retry counter): fix the PIN and restart authd");
  }
  return st;
}

}  // namespace authd::hsm
