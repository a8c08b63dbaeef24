// The benchmarks' HSM: a throwaway SoftHSM2 token in a temp dir, provisioned
// with hsm::InitToken (as authd-token-init does) and opened with the same
// Pkcs11KeyOps the daemon uses. One per process: SoftHSM2 reads its config
// once, at C_Initialize.
#ifndef AUTHD_BENCH_BENCH_TOKEN_H_
#define AUTHD_BENCH_BENCH_TOKEN_H_

#include <string>

#include "hsm/pkcs11_key_ops.h"

namespace authd::bench {

// Key ops over the process's token, created on first use; aborts with one
// line on stderr when SoftHSM2 is missing.
hsm::Pkcs11KeyOps& Keys();

// A fresh directory under the token's temp dir for a benchmark's database.
std::string ScratchDir(const std::string& name);

}  // namespace authd::bench

#endif  // AUTHD_BENCH_BENCH_TOKEN_H_
