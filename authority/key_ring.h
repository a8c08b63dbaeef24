// KeyRing: the token-signing keys. One key is active and signs new tokens;
// keys it replaced stay published in the JWKS until every token they signed
// has expired (retired_at + the longest token lifetime), then drop out.
//
// The ring's state lives in storage (meta "token_keys"), changed only
// through the audit log, so a rotation commits with its "key.rotate" entry.
// Private keys never leave the HSM: the ring knows labels and public keys.
// Reads are lock-free snapshots; Rotate() is serialized. Thread-safe.
#ifndef AUTHD_AUTHORITY_KEY_RING_H_
#define AUTHD_AUTHORITY_KEY_RING_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "common/clock.h"
#include "common/status.h"
#include "hsm/key_ops.h"
#include "storage/storage.h"

namespace authd::authority {

struct RingKey {
  std::string label;  // CKA_LABEL in the HSM
  PublicKey pub;
  int64_t created_at = 0;
  int64_t retired_at = 0;  // 0 while active
};

class KeyRing {
 public:
  struct Snapshot {
    RingKey active;
    std::vector<RingKey> all;  // every key in the ring, active first
  };
  // Keys whose tokens can still be valid at `now`: the active one, then
  // those retired less than the longest token lifetime ago.
  std::vector<const RingKey*> Published(const Snapshot& snap,
                                        int64_t now) const;

  // Loads the ring (on first start: the HSM's provisioned token key).
  // `max_token_ttl` is tokens.ttl_seconds: how long a retired key stays
  // published. (Lowering it across a restart can drop a key while tokens it
  // signed under the old, longer lifetime are still unexpired.)
  static StatusOr<std::unique_ptr<KeyRing>> Open(storage::Storage* storage,
                                                 audit::AuditLog* audit,
                                                 const hsm::KeyOps* keys,
                                                 const Clock* clock,
                                                 int64_t max_token_ttl);

  std::shared_ptr<const Snapshot> Current() const;
  // A reload's tokens.ttl_seconds. It can lengthen how long a retired key
  // stays published, never shorten it: tokens signed under the longer
  // lifetime may still be unexpired (a restart applies a shorter one).
  void RaiseMaxTokenTtl(int64_t ttl);
  // Signs with `key` (taken from a snapshot).
  StatusOr<std::string> Sign(const RingKey& key, std::string_view data) const {
    return keys_->SignWith(key.label, data);
  }
  // Creates a new key pair of `alg` in the HSM, makes it active and retires
  // the previous one, with a "key.rotate" audit entry.
  StatusOr<RingKey> Rotate(Algorithm alg, const std::string& actor,
                           const std::string& source,
                           const std::string& reason);
  // The published key with `kid`, or null.
  const PublicKey* Find(const Snapshot& snap, const std::string& kid,
                        int64_t now) const;

 private:
  KeyRing(storage::Storage* storage, audit::AuditLog* audit,
          const hsm::KeyOps* keys, const Clock* clock, int64_t max_ttl)
      : storage_(storage),
        audit_(audit),
        keys_(keys),
        clock_(clock),
        max_ttl_(max_ttl) {}
  Status Load();
  // Whether tokens signed by `k` can still be valid at `now`.
  bool IsPublished(const RingKey& k, int64_t now) const;
  // Publishes `all` (every key in meta, the active one without retired_at).
  void Publish(std::vector<RingKey> all);
  static std::string ToJson(const std::vector<RingKey>& all);

  storage::Storage* storage_;
  audit::AuditLog* audit_;
  const hsm::KeyOps* keys_;
  const Clock* clock_;
  std::atomic<int64_t> max_ttl_;  // only grows; relaxed (a plain bound)
  std::mutex rotate_mu_;
  std::vector<RingKey> all_;  // GUARDED_BY(rotate_mu_)
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
};

}  // namespace authd::authority

#endif  // AUTHD_AUTHORITY_KEY_RING_H_
