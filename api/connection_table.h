// ConnectionTable: what the HTTP transport tracks about its open TCP
// connections beyond what libmicrohttpd does.
//
// - Connections per client. An IPv4 client is its address; an IPv6 client is
//   its /64, since one host commonly holds a whole /64 and could otherwise
//   open a fresh address per connection (MHD's own per-IP limit counts exact
//   addresses). The accept policy asks HasRoom() before a connection costs a
//   slot; Opened()/Closed() keep the count (from MHD's connection
//   notifications, so a connection MHD refuses for other reasons is never
//   counted). With several threads accepting at once, HasRoom() alone could
//   let a client past its share, so Opened() checks again under the lock and
//   says when the connection is one too many: the transport shuts it down.
// - An absolute deadline per connection: a request must arrive whole (request
//   line, headers and body) within the timeout of the moment the connection
//   became ready for it, however steadily its bytes trickle in. Expire() hands
//   the connections past their deadline to a callback that shuts them down.
//
// Thread-safe: one mutex guards everything; callbacks run with it held.
#ifndef AUTHD_API_CONNECTION_TABLE_H_
#define AUTHD_API_CONNECTION_TABLE_H_

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "common/cidr.h"

namespace authd::api {

class ConnectionTable {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ConnectionTable(unsigned per_client_limit)
      : limit_(per_client_limit) {}
  ConnectionTable(const ConnectionTable&) = delete;  // owns a mutex
  ConnectionTable& operator=(const ConnectionTable&) = delete;

  // The client a peer's connections count against: the IPv4 address itself,
  // or the IPv6 address with its last 64 bits cleared.
  static Uint128 ClientKey(const IpAddress& peer);

  // Whether the peer's client may open one more connection.
  bool HasRoom(const IpAddress& peer) const;
  // Records connection `fd` of `peer`, its first request due by `deadline`.
  // False when it puts the client over its limit: the caller shuts it down
  // (it stays counted until Closed).
  bool Opened(int fd, const IpAddress& peer, Clock::time_point deadline);
  // Forgets `fd`. REQUIRES: called before the descriptor is closed, so that
  // a reused descriptor cannot be confused with it.
  void Closed(int fd);
  // The next request on `fd` is due by `deadline`.
  void Arm(int fd, Clock::time_point deadline);
  // The request on `fd` is in; no deadline until the next one begins.
  void Disarm(int fd);
  // Calls shut(fd), with the table locked, for every armed connection whose
  // deadline is before `now`, and disarms it.
  void Expire(Clock::time_point now, const std::function<void(int)>& shut);

  unsigned Connections(const IpAddress& peer) const;

 private:
  struct Entry {
    Uint128 client;
    std::optional<Clock::time_point> deadline;
  };
  const unsigned limit_;
  mutable std::mutex mu_;
  std::unordered_map<int, Entry> by_fd_;    // guarded by mu_
  std::map<Uint128, unsigned> per_client_;  // guarded by mu_
};

}  // namespace authd::api

#endif  // AUTHD_API_CONNECTION_TABLE_H_
