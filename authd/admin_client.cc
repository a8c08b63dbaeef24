#include "authd/admin_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/unique_fd.h"

namespace authd {

namespace {

StatusOr<UniqueFd> Connect(const std::string& socket_path, int timeout_ms) {
  sockaddr_un addr{};
  if (socket_path.size() >= sizeof addr.sun_path) {
    return Status::InvalidArgument("socket path is too long");
  }
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::Unavailable(strerror(errno));
  // Bounds connect() (a full backlog) and send().
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Status::Unavailable("cannot connect to " + socket_path + ": " +
                               strerror(errno) +
                               " (is authd running? see --socket)");
  }
  return fd;
}

// Reads until the peer closes, waiting at most `timeout_ms` for each chunk.
StatusOr<std::string> ReadAll(int fd, int timeout_ms) {
  std::string raw;
  char buf[8192];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) {
      return Status::Unavailable("authd did not answer within " +
                                 std::to_string(timeout_ms) + " ms");
    }
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return raw;
    raw.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

StatusOr<HttpReply> AdminRequest(const std::string& socket_path,
                                 const std::string& method,
                                 const std::string& path,
                                 const std::string& json_body, int timeout_ms) {
  ASSIGN_OR_RETURN(UniqueFd fd, Connect(socket_path, timeout_ms));
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: localhost\r\n" +
                    "Connection: close\r\n";
  if (!json_body.empty() || method == "POST") {
    req += "Content-Type: application/json\r\nContent-Length: " +
           std::to_string(json_body.size()) + "\r\n";
  }
  req += "\r\n" + json_body;
  for (size_t off = 0; off < req.size();) {
    ssize_t n =
        send(fd.get(), req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return Status::Unavailable("write to admin socket failed");
    off += static_cast<size_t>(n);
  }
  ASSIGN_OR_RETURN(std::string raw, ReadAll(fd.get(), timeout_ms));
  size_t head_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos ||
      raw.size() < 12) {
    return Status::Unavailable("malformed answer from authd");
  }
  HttpReply reply;
  reply.status = atoi(raw.c_str() + 9);
  reply.body = raw.substr(head_end + 4);
  return reply;
}

}  // namespace authd
