// A throwaway SoftHSM2 token for tests: a temp dir holding softhsm2.conf and
// the token files, SOFTHSM2_CONF pointed at it, and one token initialized
// with `softhsm2-util --init-token --free`. One per process: SoftHSM2 reads
// its config once, at C_Initialize.
#ifndef AUTHD_TESTS_TESTING_SOFTHSM_TOKEN_H_
#define AUTHD_TESTS_TESTING_SOFTHSM_TOKEN_H_

#include <memory>
#include <string>

#include "hsm/pkcs11_key_ops.h"

namespace authd::testing {

struct SoftHsmToken {
  std::string dir;
  std::string label = "authd-test";
  std::string pin = "test-user-pin-1234";
  std::string uri() const { return "pkcs11:token=" + label; }

  // Creates the process's token on first use.
  static const SoftHsmToken& Get();
  // Key ops over the token (keys created on first call).
  static hsm::Pkcs11KeyOps& Keys();
};

// A fresh temp directory, removed at exit.
std::string MakeTempDir(const std::string& prefix);

}  // namespace authd::testing

#endif  // AUTHD_TESTS_TESTING_SOFTHSM_TOKEN_H_
