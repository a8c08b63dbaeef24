// HttpServer: the libmicrohttpd adapter, and the only file that includes
// <microhttpd.h>. It binds the TCP listeners and the admin Unix socket itself
// (so port 0 and socket activation work the same way), hands them to one MHD
// daemon each with an internal epoll thread pool, and turns MHD callbacks into
// HttpService::Admit / Handle / Observe calls.
//
// Bounds, all from ServerOptions: body size (413 before the body is read when
// Content-Length says so, and as soon as a chunked body crosses it, closing
// the connection), header memory, header and query parameter counts, total
// connections and connections per client (an IPv6 client is its /64; counted
// in the accept policy, see ConnectionTable), an idle timeout, and the same
// timeout as an absolute deadline for each whole request. Requests with
// ambiguous framing (RFC 9112 §6.3) are refused with 400.
// TCP peers that HttpService::AcceptPeer refuses are dropped at accept.
// Every callback is noexcept and catches everything.
#ifndef AUTHD_API_HTTP_SERVER_H_
#define AUTHD_API_HTTP_SERVER_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/http.h"
#include "common/secure_string.h"
#include "common/status.h"
#include "common/unique_fd.h"

struct MHD_Daemon;

namespace authd::api {

class ConnectionTable;

struct ServerOptions {
  std::vector<std::string> listen;  // "host:port", "[v6]:port"
  std::string admin_socket;         // path; empty for none
  // TlsIdentity::CertificateCallback(); null for plain HTTP.
  void* tls_cert_callback = nullptr;
  unsigned threads = 2;
  size_t max_body_bytes = 16 * 1024;
  size_t max_header_bytes = 16 * 1024;
  unsigned max_params = 64;
  unsigned connection_timeout_seconds = 10;
  unsigned max_connections = 1024;
  unsigned max_connections_per_address = 64;
};

class HttpServer {
 public:
  static StatusOr<std::unique_ptr<HttpServer>> Start(
      const ServerOptions& opts, const HttpService* service);
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();

  // "127.0.0.1:34567" for each TCP listener, in the order configured.
  const std::vector<std::string>& bound() const { return bound_; }
  // Stops accepting, lets requests in flight finish, joins the threads.
  void Stop();

  struct Listener;  // one MHD daemon; defined in the .cc

 private:
  friend struct ServerAccess;
  HttpServer(const HttpService* service, ServerOptions opts);
  Status AddDaemon(UniqueFd fd, bool admin);
  void Sweep();

  const HttpService* service_;
  ServerOptions opts_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<std::string> bound_;
  std::unique_ptr<ConnectionTable> table_;  // TCP connections, all listeners
  std::mutex sweep_mu_;
  std::condition_variable sweep_cv_;
  bool stopping_ = false;  // guarded by sweep_mu_
  std::thread sweeper_;    // enforces the whole-request deadline
};

// Parses "host:port" / "[v6]:port"; exposed for config validation.
Status ValidateListenAddress(const std::string& text);

}  // namespace authd::api

#endif  // AUTHD_API_HTTP_SERVER_H_
