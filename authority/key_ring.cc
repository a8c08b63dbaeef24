#include "authority/key_ring.h"

#include <nlohmann/json.hpp>

#include "common/encoding.h"

namespace authd::authority {
namespace {

constexpr char kMetaKey[] = "token_keys";

}  // namespace

std::string KeyRing::ToJson(const std::vector<RingKey>& all) {
  nlohmann::json out = nlohmann::json::array();
  for (const RingKey& k : all) {
    out.push_back({{"label", k.label},
                   {"kid", k.pub.kid()},
                   {"alg", AlgorithmName(k.pub.algorithm())},
                   {"created_at", k.created_at},
                   {"retired_at", k.retired_at}});
  }
  return out.dump();
}

StatusOr<std::unique_ptr<KeyRing>> KeyRing::Open(storage::Storage* storage,
                                                 audit::AuditLog* audit,
                                                 const hsm::KeyOps* keys,
                                                 const Clock* clock,
                                                 int64_t max_token_ttl) {
  std::unique_ptr<KeyRing> ring(
      new KeyRing(storage, audit, keys, clock, max_token_ttl));
  RETURN_IF_ERROR(ring->Load());
  return ring;
}

Status KeyRing::Load() {
  std::lock_guard<std::mutex> lock(rotate_mu_);
  ASSIGN_OR_RETURN(std::optional<std::string> meta,
                   storage_->GetMeta(kMetaKey));
  std::vector<RingKey> all;
  if (!meta) {
    // First start: the ring is the token key the HSM layer provisioned.
    all.push_back({hsm::kTokenKeyLabel, keys_->Public(hsm::KeyUse::kToken),
                   clock_->NowSeconds(), 0});
    RETURN_IF_ERROR(keys_->LoadSigningKey(hsm::kTokenKeyLabel).status());
    Publish(std::move(all));
    return Status::Ok();
  }
  nlohmann::json j = nlohmann::json::parse(*meta, nullptr, false);
  if (!j.is_array())
    return Status::Internal("stored token key ring is corrupt");
  int64_t now = clock_->NowSeconds();
  for (const auto& e : j) {
    std::string label = e.value("label", "");
    int64_t retired = e.value("retired_at", int64_t{0});
    int64_t created = e.value("created_at", int64_t{0});
    if (retired != 0 &&
        retired + max_ttl_.load(std::memory_order_relaxed) < now) {
      continue;  // long expired
    }
    ASSIGN_OR_RETURN(PublicKey pub, keys_->LoadSigningKey(label));
    if (pub.kid() != e.value("kid", "")) {
      return Status::FailedPrecondition("HSM key " + label +
                                        " is not the key the ring recorded");
    }
    all.push_back({label, std::move(pub), created, retired});
  }
  if (all.empty() || all.front().retired_at != 0) {
    return Status::Internal("stored token key ring has no active key");
  }
  Publish(std::move(all));
  return Status::Ok();
}

void KeyRing::Publish(std::vector<RingKey> all) {
  all_ = all;
  auto snap = std::make_shared<Snapshot>(Snapshot{all.front(), std::move(all)});
  snapshot_.store(std::move(snap));
}

std::shared_ptr<const KeyRing::Snapshot> KeyRing::Current() const {
  return snapshot_.load();
}

bool KeyRing::IsPublished(const RingKey& k, int64_t now) const {
  return k.retired_at == 0 ||
         k.retired_at + max_ttl_.load(std::memory_order_relaxed) >= now;
}

void KeyRing::RaiseMaxTokenTtl(int64_t ttl) {
  int64_t seen = max_ttl_.load(std::memory_order_relaxed);
  while (seen < ttl && !max_ttl_.compare_exchange_weak(
                           seen, ttl, std::memory_order_relaxed)) {
  }
}

std::vector<const RingKey*> KeyRing::Published(const Snapshot& snap,
                                               int64_t now) const {
  std::vector<const RingKey*> out;
  for (const RingKey& k : snap.all) {
    if (IsPublished(k, now)) out.push_back(&k);
  }
  return out;
}

// On every token verification, the check's cached ones included: no
// allocation.
const PublicKey* KeyRing::Find(const Snapshot& snap, const std::string& kid,
                               int64_t now) const {
  for (const RingKey& k : snap.all) {
    if (k.pub.kid() == kid && IsPublished(k, now)) return &k.pub;
  }
  return nullptr;
}

StatusOr<RingKey> KeyRing::Rotate(Algorithm alg, const std::string& actor,
                                  const std::string& source,
                                  const std::string& reason) {
  RETURN_IF_ERROR(ValidatePrintable("reason", reason, 0, 1024));
  // No orphan key pairs in the HSM while the log refuses changes.
  if (std::string why = audit_->refusal(); !why.empty()) {
    return Status::FailedPrecondition("changes are refused: " + why);
  }
  std::lock_guard<std::mutex> lock(rotate_mu_);
  int64_t now = clock_->NowSeconds();
  std::string label = std::string(hsm::kTokenKeyLabel) + "-" +
                      std::to_string(clock_->NowMicros());
  ASSIGN_OR_RETURN(PublicKey pub, keys_->GenerateSigningKey(label, alg));
  RingKey fresh{label, pub, now, 0};
  std::vector<RingKey> next{fresh};
  std::string previous = all_.front().pub.kid();
  for (RingKey k : all_) {
    if (k.retired_at == 0) k.retired_at = now;
    if (IsPublished(k, now)) next.push_back(std::move(k));
  }
  std::string json = ToJson(next);
  RETURN_IF_ERROR(audit_->Record(
      [&](storage::Transaction& tx) { return tx.PutMeta(kMetaKey, json); },
      {{actor,
        source,
        "key.rotate",
        label,
        {{"use", "token"},
         {"kid", pub.kid()},
         {"algorithm", AlgorithmName(alg)},
         {"previous_kid", previous}},
        reason}}));
  Publish(std::move(next));
  return fresh;
}

}  // namespace authd::authority
