// Transport-neutral HTTP request and response. Handlers see only these types
// and know nothing about libmicrohttpd (Envoy's admin handler model).
#ifndef AUTHD_API_HTTP_H_
#define AUTHD_API_HTTP_H_

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/cidr.h"
#include "common/secure_string.h"
#include "common/status.h"

namespace authd::api {

struct Request {
  std::string method;
  std::string path;                            // percent-decoded
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> headers;  // names lower-cased
  SecureString body;                           // may carry secrets
  // Transport facts.
  bool admin_socket = false;         // came over the Unix admin socket
  std::optional<unsigned> peer_uid;  // SO_PEERCRED on the admin socket
  std::optional<IpAddress> peer;     // direct TCP peer
  std::optional<IpAddress> client;   // after trusted X-Forwarded-For
  std::string request_id;

  const std::string* Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? nullptr : &it->second;
  }
  // The credentials of an "Authorization: Bearer" header (RFC 6750 §2.1,
  // scheme case-insensitive); empty when there is none.
  std::string BearerToken() const;
  // Whether Content-Type names `type` (lower case), ignoring case, and any
  // parameters after ';' (RFC 9110 §8.3.1).
  bool HasMediaType(std::string_view type) const;
  const std::string* Query(const std::string& name) const {
    auto it = query.find(name);
    return it == query.end() ? nullptr : &it->second;
  }
};

// The credentials of an "Authorization: Basic" header (RFC 7617, scheme
// case-insensitive), with id and secret form-urlencoded before they were
// joined by ':' (RFC 6749 §2.3.1). False, leaving `id` and `secret` alone,
// for another scheme, bad base64, no ':' or a malformed escape.
bool ParseBasicCredentials(std::string_view header, SecureString* id,
                           SecureString* secret);

struct Response {
  // The rest of a body too large to build in memory (the audit export),
  // produced while it is sent: each call appends the next piece to *out and
  // answers whether more follows. An error after the headers went out cuts
  // the body short (chunked transfer without its last chunk), which the
  // client sees as an incomplete answer. Called on the connection's thread,
  // one call at a time; must only use what outlives the server.
  using BodyStream = std::function<StatusOr<bool>(std::string* out)>;

  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // When set, the body is `body` followed by what `stream` produces, sent
  // with chunked transfer coding instead of a Content-Length.
  BodyStream stream;
  std::string content_type = "application/json";
  // For the access log only: the authenticated client, when known.
  std::string log_client_id;

  static Response Json(int status, const nlohmann::json& body);
  static Response NoContent() {
    Response r;
    r.status = 204;
    r.content_type.clear();
    return r;
  }
  // SPEC administration errors: {"error","message"}.
  static Response Error(int status, std::string_view error,
                        std::string_view message);
  // RFC 6749 §5.2 errors: {"error","error_description"}.
  static Response OAuthError(int status, std::string_view error,
                             std::string_view description);
  // The HTTP status and error code for a Status (the one mapping).
  static Response FromStatus(const Status& st);
  Response& WithClient(std::string client_id) {
    log_client_id = std::move(client_id);
    return *this;
  }
  Response& With(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  // 405 naming the methods the resource takes (RFC 9110 §15.5.6).
  static Response MethodNotAllowed(std::string_view allow);
  static Response NotFound(std::string_view path);
};

// What a transport drives: AcceptPeer() when a TCP connection arrives (before
// it costs a connection slot), Admit() once the request line and headers are
// in (before any body is read), Handle() once the body is complete,
// Decorate() on every answer before it is sent (the transport's own refusals
// too), Observe() once the response was sent. Implementations are
// thread-safe.
class HttpService {
 public:
  virtual ~HttpService() = default;
  // Whether a TCP peer may have a connection at all; false drops it at
  // accept, without an answer. Not asked for the admin socket.
  virtual bool AcceptPeer(const IpAddress& peer) const = 0;
  // A response when the request must be answered without reading its body.
  // May fill req.client.
  virtual std::optional<Response> Admit(Request& req) const = 0;
  virtual Response Handle(const Request& req) const = 0;
  virtual void Observe(const Request& req, double seconds) const = 0;
  // Headers that every answer to `req` carries, whoever wrote it.
  virtual void Decorate(const Request& req, Response* r) const = 0;
};

}  // namespace authd::api

#endif  // AUTHD_API_HTTP_H_
