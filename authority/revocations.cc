#include "authority/revocations.h"

#include "common/log.h"

namespace authd::authority {

StatusOr<std::unique_ptr<Revocations>> Revocations::Load(
    storage::Storage* storage, const Clock* clock) {
  std::unique_ptr<Revocations> r(new Revocations(storage, clock));
  int64_t now = clock->NowSeconds();
  // Dropping the expired rows is housekeeping (the next revocation does it
  // too): a full disk must not keep authd from starting.
  Status purged = storage->Write(
      [&](storage::Transaction& tx) { return tx.PurgeRevocations(now); });
  if (!purged.ok()) {
    Log(LogLevel::kWarn,
        "event=revocations_purge msg=\"expired revocations kept: %s\"",
        LogSafe(purged.message()).c_str());
  }
  ASSIGN_OR_RETURN(std::vector<storage::RevokedToken> rows,
                   storage->ListRevocations());
  auto map = std::make_shared<Map>();
  for (const auto& row : rows) {
    if (row.expires_at > now) (*map)[row.jti] = row.expires_at;
  }
  r->map_.store(std::move(map));
  return r;
}

Status Revocations::Revoke(const std::string& jti, const std::string& client_id,
                           int64_t exp) {
  std::lock_guard<std::mutex> lock(write_mu_);
  int64_t now = clock_->NowSeconds();
  Status stored = storage_->Write([&](storage::Transaction& tx) -> Status {
    RETURN_IF_ERROR(tx.InsertRevocation({jti, client_id, exp, now}));
    return tx.PurgeRevocations(now);
  });
  RETURN_IF_ERROR(stored);
  // The new map: the old one less what has expired, plus this token.
  auto next = std::make_shared<Map>();
  for (const auto& [id, until] : *map_.load()) {
    if (until > now) next->emplace(id, until);
  }
  (*next)[jti] = exp;
  map_.store(std::move(next));
  return Status::Ok();
}

bool Revocations::IsRevoked(std::string_view jti) const {
  std::shared_ptr<const Map> map = map_.load();
  return map->find(std::string(jti)) != map->end();
}

}  // namespace authd::authority
