// A minimal HTTP/1.1 client over the admin Unix socket, for authctl. One
// request per connection (Connection: close). The answer's body is framed
// by Content-Length, chunked transfer coding (a streamed answer such as the
// audit export) or the end of the connection; one cut short is an error.
#ifndef AUTHD_AUTHD_ADMIN_CLIENT_H_
#define AUTHD_AUTHD_ADMIN_CLIENT_H_

#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace authd {

struct HttpReply {
  int status = 0;
  std::string body;
};

// Unavailable when authd does not answer within `timeout_ms` (connecting,
// sending, and each wait for more of the answer).
StatusOr<HttpReply> AdminRequest(const std::string& socket_path,
                                 const std::string& method,
                                 const std::string& path,
                                 const std::string& json_body = "",
                                 int timeout_ms = 30000);

// The same, handing a successful (2xx) answer's body to `sink` piece by
// piece as it arrives instead of keeping it; the body of any other answer is
// kept in the reply. A sink error ends the request with that error.
StatusOr<HttpReply> AdminRequestStream(
    const std::string& socket_path, const std::string& method,
    const std::string& path,
    const std::function<Status(std::string_view)>& sink,
    int timeout_ms = 30000);

}  // namespace authd

#endif  // AUTHD_AUTHD_ADMIN_CLIENT_H_
