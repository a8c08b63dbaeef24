// Provisioning a fresh token (development and tests): initialize the first
// uninitialized token a module offers, and set its user PIN. PINs arrive in
// memory, never through argv, which softhsm2-util would require.
#ifndef AUTHD_HSM_PROVISION_H_
#define AUTHD_HSM_PROVISION_H_

#include <string>

#include "common/secure_string.h"
#include "common/status.h"

namespace authd::hsm {

// AlreadyExists when a token with `label` is already initialized.
Status InitToken(const std::string& module, const std::string& label,
                 const SecureString& so_pin, const SecureString& user_pin);

}  // namespace authd::hsm

#endif  // AUTHD_HSM_PROVISION_H_
