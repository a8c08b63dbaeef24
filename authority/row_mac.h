// RowMac: the MACs that bind the database rows deciding access (credentials,
// allowlist entries, the recorded role set) to the HSM, so that whoever can
// write the database file but does not hold the HSM PIN cannot forge or edit
// one (SPEC "Security rules").
//
// The key, K_row, is derived once at start as HMAC-SHA256 under the HSM
// pepper of a fixed label ("authd-row-mac-key-v1\0"; client-secret MACs use
// "authd-client-secret-v1\0", so the pepper's inputs never collide). Row MACs
// are then HMAC-SHA256 under K_row computed here with OpenSSL: checking a
// million rows at start costs no HSM operation. K_row lives only in
// OpenSSL's keyed context, which wipes it when freed. Someone who can read
// authd's memory can forge rows, but already holds what the PIN gives.
//
// A MAC's input is unambiguous: a table tag, then every column and the
// row's audit_seq, each prefixed by its length (8 bytes, big-endian);
// integers are 8 bytes, big-endian.
//
// Thread-safe: calls are serialized by an internal mutex.
#ifndef AUTHD_AUTHORITY_ROW_MAC_H_
#define AUTHD_AUTHORITY_ROW_MAC_H_

#include <openssl/evp.h>

#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/deleter.h"
#include "common/status.h"
#include "hsm/key_ops.h"
#include "storage/storage.h"

namespace authd::authority {

class RowMac {
 public:
  // One HMAC in the HSM (the derivation). Unavailable if the HSM or OpenSSL
  // fails.
  static StatusOr<std::unique_ptr<RowMac>> Derive(const hsm::KeyOps& keys);

  RowMac(const RowMac&) = delete;  // owns a keyed OpenSSL context
  RowMac& operator=(const RowMac&) = delete;

  // The MAC a row must carry: over every column but `mac` itself.
  StatusOr<std::string> Of(const storage::Credential& c) const;
  StatusOr<std::string> Of(const storage::AllowlistEntry& e) const;
  StatusOr<std::string> Of(const storage::BoundMeta& m) const;

  // Whether the row's stored MAC is the one it must carry (constant-time
  // comparison). False for a row without a MAC, or if OpenSSL fails.
  template <typename Row>
  bool Matches(const Row& row) const {
    StatusOr<std::string> want = Of(row);
    return want.ok() && Equal(*want, row.mac);
  }

 private:
  using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, Deleter<EVP_MAC_CTX_free>>;
  explicit RowMac(MacCtxPtr ctx) : ctx_(std::move(ctx)) {}
  static bool Equal(std::string_view a, std::string_view b);
  // HMAC-SHA256 under K_row of the length-prefixed `fields`.
  StatusOr<std::string> Compute(
      std::initializer_list<std::string_view> fields) const;

  mutable std::mutex mu_;
  MacCtxPtr ctx_;  // GUARDED_BY(mu_): keyed with K_row
};

}  // namespace authd::authority

#endif  // AUTHD_AUTHORITY_ROW_MAC_H_
