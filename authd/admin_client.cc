#include "authd/admin_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
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

// Reads an HTTP/1.1 answer from a socket: buffered, each wait bounded.
class AnswerReader {
 public:
  AnswerReader(int fd, int timeout_ms) : fd_(fd), timeout_ms_(timeout_ms) {}

  // Everything up to and including the blank line after the headers.
  StatusOr<std::string> Head() {
    size_t end;
    while ((end = buf_.find("\r\n\r\n", pos_)) == std::string::npos) {
      ASSIGN_OR_RETURN(bool more, Fill());
      if (!more) return Status::Unavailable("malformed answer from authd");
    }
    std::string head = buf_.substr(pos_, end + 4 - pos_);
    pos_ = end + 4;
    return head;
  }

  // One line of the chunked framing, without its CRLF.
  StatusOr<std::string> Line() {
    size_t end;
    while ((end = buf_.find("\r\n", pos_)) == std::string::npos) {
      if (buf_.size() - pos_ > 4096) {
        return Status::Unavailable("malformed chunked answer from authd");
      }
      ASSIGN_OR_RETURN(bool more, Fill());
      if (!more) return CutShort();
    }
    std::string line = buf_.substr(pos_, end - pos_);
    pos_ = end + 2;
    return line;
  }

  // Up to `max` bytes of body; empty at the end of the connection.
  StatusOr<std::string_view> Some(size_t max) {
    if (pos_ == buf_.size()) {
      buf_.clear();
      pos_ = 0;
      ASSIGN_OR_RETURN(bool more, Fill());
      if (!more) return std::string_view();
    }
    size_t n = std::min(max, buf_.size() - pos_);
    std::string_view out(buf_.data() + pos_, n);
    pos_ += n;
    return out;
  }

  static Status CutShort() {
    return Status::Unavailable("the answer from authd was cut short");
  }

 private:
  // Reads more; false at the end of the connection.
  StatusOr<bool> Fill() {
    char chunk[65536];
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, timeout_ms_) <= 0) {
        return Status::Unavailable("authd did not answer within " +
                                   std::to_string(timeout_ms_) + " ms");
      }
      ssize_t n = read(fd_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buf_.erase(0, pos_);  // keep only what is not consumed yet
      pos_ = 0;
      buf_.append(chunk, static_cast<size_t>(n));
      return true;
    }
  }

  int fd_;
  int timeout_ms_;
  std::string buf_;
  size_t pos_ = 0;
};

// The value of header `name` (lower case) in `head`; empty when absent.
std::string HeaderValue(const std::string& head, const std::string& name) {
  std::string lower = head;
  for (char& c : lower) c = static_cast<char>(tolower(c));
  size_t at = lower.find("\r\n" + name + ":");
  if (at == std::string::npos) return "";
  size_t start = at + 3 + name.size();
  size_t end = lower.find("\r\n", start);
  std::string v = lower.substr(start, end - start);
  size_t a = v.find_first_not_of(" \t"), b = v.find_last_not_of(" \t");
  return a == std::string::npos ? "" : v.substr(a, b - a + 1);
}

using Sink = std::function<Status(std::string_view)>;

// A chunked body (RFC 9112 §7.1): complete only with its last, empty chunk.
Status ReadChunked(AnswerReader& in, const Sink& sink) {
  for (;;) {
    ASSIGN_OR_RETURN(std::string line, in.Line());
    char* end = nullptr;
    unsigned long long size = strtoull(line.c_str(), &end, 16);
    if (end == line.c_str()) {
      return Status::Unavailable("malformed chunked answer from authd");
    }
    if (size == 0) break;
    while (size > 0) {
      ASSIGN_OR_RETURN(std::string_view piece, in.Some(size));
      if (piece.empty()) return AnswerReader::CutShort();
      RETURN_IF_ERROR(sink(piece));
      size -= piece.size();
    }
    ASSIGN_OR_RETURN(std::string crlf, in.Line());
    if (!crlf.empty()) {
      return Status::Unavailable("malformed chunked answer from authd");
    }
  }
  for (;;) {  // trailer fields, up to the blank line
    ASSIGN_OR_RETURN(std::string line, in.Line());
    if (line.empty()) return Status::Ok();
  }
}

// The body as the head frames it: chunked, Content-Length, or to EOF.
Status ReadBody(AnswerReader& in, const std::string& head, const Sink& sink) {
  int status = atoi(head.c_str() + 9);
  if (status == 204 || status == 304 || status < 200) return Status::Ok();
  if (HeaderValue(head, "transfer-encoding") == "chunked") {
    return ReadChunked(in, sink);
  }
  std::string length = HeaderValue(head, "content-length");
  uint64_t left =
      length.empty() ? UINT64_MAX : strtoull(length.c_str(), nullptr, 10);
  while (left > 0) {
    ASSIGN_OR_RETURN(std::string_view piece,
                     in.Some(std::min<uint64_t>(left, 1 << 20)));
    if (piece.empty()) {
      return length.empty() ? Status::Ok() : AnswerReader::CutShort();
    }
    RETURN_IF_ERROR(sink(piece));
    left -= piece.size();
  }
  return Status::Ok();
}

// With `close`, asks authd to close the connection after the answer. A
// streamed answer is asked for without it: libmicrohttpd frames a body of
// unknown length by chunks only on a connection it may keep, and only the
// last chunk tells a complete body from one cut short.
Status SendRequest(int fd, const std::string& method, const std::string& path,
                   const std::string& json_body, bool close) {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: localhost\r\n" +
                    (close ? "Connection: close\r\n" : "");
  if (!json_body.empty() || method == "POST") {
    req += "Content-Type: application/json\r\nContent-Length: " +
           std::to_string(json_body.size()) + "\r\n";
  }
  req += "\r\n" + json_body;
  for (size_t off = 0; off < req.size();) {
    ssize_t n = send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return Status::Unavailable("write to admin socket failed");
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

StatusOr<HttpReply> Exchange(const std::string& socket_path,
                             const std::string& method, const std::string& path,
                             const std::string& json_body, const Sink* sink,
                             int timeout_ms) {
  ASSIGN_OR_RETURN(UniqueFd fd, Connect(socket_path, timeout_ms));
  RETURN_IF_ERROR(
      SendRequest(fd.get(), method, path, json_body, sink == nullptr));
  AnswerReader in(fd.get(), timeout_ms);
  ASSIGN_OR_RETURN(std::string head, in.Head());
  if (head.rfind("HTTP/1.", 0) != 0 || head.size() < 12) {
    return Status::Unavailable("malformed answer from authd");
  }
  HttpReply reply;
  reply.status = atoi(head.c_str() + 9);
  Sink keep = [&](std::string_view piece) {
    reply.body.append(piece);
    return Status::Ok();
  };
  bool stream = sink != nullptr && reply.status >= 200 && reply.status < 300;
  RETURN_IF_ERROR(ReadBody(in, head, stream ? *sink : keep));
  return reply;
}

}  // namespace

StatusOr<HttpReply> AdminRequest(const std::string& socket_path,
                                 const std::string& method,
                                 const std::string& path,
                                 const std::string& json_body, int timeout_ms) {
  return Exchange(socket_path, method, path, json_body, nullptr, timeout_ms);
}

StatusOr<HttpReply> AdminRequestStream(const std::string& socket_path,
                                       const std::string& method,
                                       const std::string& path,
                                       const Sink& sink, int timeout_ms) {
  return Exchange(socket_path, method, path, "", &sink, timeout_ms);
}

}  // namespace authd
