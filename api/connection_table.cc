#include "api/connection_table.h"

namespace authd::api {

Uint128 ConnectionTable::ClientKey(const IpAddress& peer) {
  if (peer.is_v4()) return peer.bits;
  return peer.bits & ~((static_cast<Uint128>(1) << 64) - 1);
}

bool ConnectionTable::HasRoom(const IpAddress& peer) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = per_client_.find(ClientKey(peer));
  return it == per_client_.end() || it->second < limit_;
}

unsigned ConnectionTable::Connections(const IpAddress& peer) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = per_client_.find(ClientKey(peer));
  return it == per_client_.end() ? 0 : it->second;
}

bool ConnectionTable::Opened(int fd, const IpAddress& peer,
                             Clock::time_point deadline) {
  std::lock_guard<std::mutex> lock(mu_);
  Uint128 client = ClientKey(peer);
  auto [it, inserted] = by_fd_.insert_or_assign(fd, Entry{client, deadline});
  (void)it;
  (void)inserted;
  return ++per_client_[client] <= limit_;
}

void ConnectionTable::Closed(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return;
  auto count = per_client_.find(it->second.client);
  if (count != per_client_.end() && --count->second == 0) {
    per_client_.erase(count);
  }
  by_fd_.erase(it);
}

void ConnectionTable::Arm(int fd, Clock::time_point deadline) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_fd_.find(fd);
  if (it != by_fd_.end()) it->second.deadline = deadline;
}

void ConnectionTable::Disarm(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_fd_.find(fd);
  if (it != by_fd_.end()) it->second.deadline.reset();
}

void ConnectionTable::Expire(Clock::time_point now,
                             const std::function<void(int)>& shut) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [fd, entry] : by_fd_) {
    if (entry.deadline && *entry.deadline < now) {
      entry.deadline.reset();
      shut(fd);
    }
  }
}

}  // namespace authd::api
