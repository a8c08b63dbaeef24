// Revocations: the jtis of revoked access tokens (RFC 7009). Each is kept in
// storage until its token's exp, so a revocation survives a restart, and in
// memory as an immutable map published with an atomic shared_ptr, so the
// check path reads it without a lock. Revocation is not an audit-log change
// (the log records credential and allowlist changes). Thread-safe.
#ifndef AUTHD_AUTHORITY_REVOCATIONS_H_
#define AUTHD_AUTHORITY_REVOCATIONS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"
#include "common/status.h"
#include "storage/storage.h"

namespace authd::authority {

class Revocations {
 public:
  // jti -> the token's exp.
  using Map = std::unordered_map<std::string, int64_t>;

  // Loads the revocations of tokens not yet expired; drops the others.
  static StatusOr<std::unique_ptr<Revocations>> Load(storage::Storage* storage,
                                                     const Clock* clock);

  // Records that the token `jti` of `client_id`, valid until `exp`, is
  // revoked. Durable and in force on every thread when it returns OK.
  Status Revoke(const std::string& jti, const std::string& client_id,
                int64_t exp);

  bool IsRevoked(std::string_view jti) const;
  // The current map; a new one is published after every revocation, so a
  // cache may use its identity as a version.
  std::shared_ptr<const Map> Current() const { return map_.load(); }

 private:
  Revocations(storage::Storage* storage, const Clock* clock)
      : storage_(storage), clock_(clock) {}

  storage::Storage* storage_;
  const Clock* clock_;
  std::mutex write_mu_;  // serializes Revoke
  std::atomic<std::shared_ptr<const Map>> map_;
};

}  // namespace authd::authority

#endif  // AUTHD_AUTHORITY_REVOCATIONS_H_
