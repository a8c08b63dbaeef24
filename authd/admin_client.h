// A minimal HTTP/1.1 client over the admin Unix socket, for authctl. One
// request per connection (Connection: close); the response is read to EOF.
#ifndef AUTHD_AUTHD_ADMIN_CLIENT_H_
#define AUTHD_AUTHD_ADMIN_CLIENT_H_

#include <string>

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

}  // namespace authd

#endif  // AUTHD_AUTHD_ADMIN_CLIENT_H_
