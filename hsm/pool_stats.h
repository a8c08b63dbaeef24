// PoolStats: what the HSM session pool publishes for probes, metrics and the
// status line. A plain value with no PKCS#11 types, so the layers above can
// carry it without seeing p11-kit.
#ifndef AUTHD_HSM_POOL_STATS_H_
#define AUTHD_HSM_POOL_STATS_H_

#include <cstddef>
#include <cstdint>

namespace authd::hsm {

struct PoolStats {
  size_t in_use = 0;  // calls running on a pooled session (or opening one)
  size_t open = 0;    // places taken under the cap: in use, idle, opening
  // Calls abandoned after hsm.timeout_ms that have not returned yet. Each
  // holds a thread and a session the HSM still counts, outside the cap.
  size_t stuck = 0;
  uint64_t abandoned = 0;  // calls abandoned since start
};

}  // namespace authd::hsm

#endif  // AUTHD_HSM_POOL_STATS_H_
