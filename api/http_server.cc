#include "api/http_server.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "api/connection_table.h"
#include "common/log.h"
#include "common/unique_fd.h"

namespace authd::api {
namespace {

struct ParsedListen {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

StatusOr<ParsedListen> ParseListen(const std::string& text) {
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() ||
        text[close + 1] != ':') {
      return Status::InvalidArgument("'" + text + "' is not [IPv6]:port");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) {
      return Status::InvalidArgument("'" + text + "' is not host:port");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return Status::InvalidArgument("'" + text +
                                     "': write IPv6 addresses as [addr]:port");
    }
  }
  long p = -1;
  if (!port.empty() && port.size() <= 5 &&
      port.find_first_not_of("0123456789") == std::string::npos) {
    p = strtol(port.c_str(), nullptr, 10);
  }
  if (p < 0 || p > 65535) {
    return Status::InvalidArgument("'" + text + "' has an invalid port");
  }
  ParsedListen out;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(p));
    out.len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(p));
    out.len = sizeof(sockaddr_in6);
  } else {
    return Status::InvalidArgument("'" + text +
                                   "' does not start with an IP address");
  }
  return out;
}

std::string FormatSockaddr(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) {
    auto* v4 = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(v4->sin_port));
  }
  auto* v6 = reinterpret_cast<const sockaddr_in6*>(sa);
  inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof buf);
  std::string out = "[";  // appended piecewise: GCC 12 -O3 misreads "[" + s
  out += buf;
  out += "]:";
  out += std::to_string(ntohs(v6->sin6_port));
  return out;
}

StatusOr<UniqueFd> BindTcp(const std::string& text, std::string* bound) {
  ASSIGN_OR_RETURN(ParsedListen l, ParseListen(text));
  UniqueFd fd(socket(l.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return Status::Unavailable("socket: " + std::string(strerror(errno)));
  }
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (l.addr.ss_family == AF_INET6) {
    setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&l.addr), l.len) != 0 ||
      listen(fd.get(), 1024) != 0) {
    return Status::Unavailable("cannot listen on " + text + ": " +
                               strerror(errno));
  }
  sockaddr_storage actual{};
  socklen_t len = sizeof actual;
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&actual), &len);
  *bound = FormatSockaddr(reinterpret_cast<sockaddr*>(&actual));
  return fd;
}

StatusOr<UniqueFd> BindUnix(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    return Status::InvalidArgument("admin_socket path is too long");
  }
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return Status::Unavailable("socket: " + std::string(strerror(errno)));
  }
  // A live socket means another authd owns it; a dead one is stale.
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    return Status::FailedPrecondition("admin socket " + path +
                                      " is in use by another process");
  }
  unlink(path.c_str());
  fd.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  mode_t old = umask(0177);  // the socket is created 0600
  int rc = bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  umask(old);
  if (rc != 0 || chmod(path.c_str(), 0600) != 0 || listen(fd.get(), 64) != 0) {
    return Status::Unavailable("cannot listen on admin socket " + path + ": " +
                               strerror(errno));
  }
  return fd;
}

// Per-connection state between MHD callbacks.
struct Pending {
  Request req;
  std::optional<Response> early;
  bool too_large = false;
  bool admin = false;
  std::chrono::steady_clock::time_point start;
  ConnectionTable* table = nullptr;  // null on the admin socket
  int fd = -1;
};

std::atomic<uint64_t> g_request_counter{0};

// Connections on the admin socket, each with its own thread. Only the
// service's user and root can connect.
constexpr unsigned kAdminConnections = 32;

constexpr char kTlsPriorities[] =
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:"
    "+AES-256-GCM:+CHACHA20-POLY1305:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_"
    "PRECEDENCE";

MHD_Result CollectHeader(void* cls, MHD_ValueKind kind, const char* key,
                         const char* value) noexcept {
  auto* p = static_cast<Pending*>(cls);
  try {
    std::string k(key ? key : "");
    std::string v(value ? value : "");
    if (kind == MHD_HEADER_KIND) {
      for (char& c : k) c = static_cast<char>(tolower(c));
      auto [it, inserted] = p->req.headers.emplace(k, v);
      if (!inserted) it->second += ", " + v;  // RFC 9110 §5.3
    } else {
      p->req.query[k] = v;
    }
  } catch (...) {
    return MHD_NO;
  }
  return MHD_YES;
}

void LogRequest(const Pending& p, const Response& r, double ms) {
  int status = r.status;
  std::string source =
      p.admin ? "socket"
              : (p.req.client ? p.req.client->ToString()
                              : (p.req.peer ? p.req.peer->ToString() : "-"));
  // Health probes (load balancers, the systemd watchdog) log at debug.
  bool probe = p.req.path == "/healthz" || p.req.path == "/readyz";
  Log(probe ? LogLevel::kDebug : LogLevel::kInfo,
      "event=request id=%s method=%s path=%s status=%d "
      "latency_ms=%.3f source=%s client_id=%s",
      p.req.request_id.c_str(), LogSafe(p.req.method).c_str(),
      LogSafe(p.req.path).c_str(), status, ms, source.c_str(),
      r.log_client_id.empty() ? "-" : r.log_client_id.c_str());
}

void Finished(const Pending& p, const Response& r, const HttpService* service) {
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - p.start)
          .count();
  service->Observe(p.req, seconds);
  LogRequest(p, r, seconds * 1000);
}

// A streamed body (Response::stream) between MHD's reader callbacks: what
// was produced and not yet handed over, and whether more follows.
struct BodyStreamState {
  std::string buf;
  size_t off = 0;
  bool done = false;
  Response::BodyStream next;
  std::string request_id;
};

// MHD's content reader: hands out `buf`, refilling it from the stream.
ssize_t ReadBodyStream(void* cls, uint64_t /*pos*/, char* out,
                       size_t max) noexcept {
  auto* s = static_cast<BodyStreamState*>(cls);
  try {
    while (s->off == s->buf.size()) {
      if (s->done) return MHD_CONTENT_READER_END_OF_STREAM;
      s->buf.clear();
      s->off = 0;
      StatusOr<bool> more = s->next(&s->buf);
      if (!more.ok()) {
        Log(LogLevel::kError, "event=http id=%s msg=\"body cut short: %s\"",
            s->request_id.c_str(), LogSafe(more.status().message()).c_str());
        return MHD_CONTENT_READER_END_WITH_ERROR;
      }
      s->done = !*more;
    }
    size_t n = std::min(max, s->buf.size() - s->off);
    memcpy(out, s->buf.data() + s->off, n);
    s->off += n;
    return static_cast<ssize_t>(n);
  } catch (...) {
    return MHD_CONTENT_READER_END_WITH_ERROR;
  }
}

void FreeBodyStream(void* cls) noexcept {
  delete static_cast<BodyStreamState*>(cls);
}

MHD_Response* CreateResponse(Response& r, const Request& req) {
  if (!r.stream) {
    return MHD_create_response_from_buffer(
        r.body.size(), const_cast<char*>(r.body.data()), MHD_RESPMEM_MUST_COPY);
  }
  auto* state = new BodyStreamState{r.body, 0, false, std::move(r.stream),
                                    req.request_id};
  MHD_Response* resp = MHD_create_response_from_callback(
      MHD_SIZE_UNKNOWN, 64 * 1024, &ReadBodyStream, state, &FreeBodyStream);
  if (resp == nullptr) delete state;
  return resp;
}

MHD_Result Queue(MHD_Connection* conn, Response r, Pending* p,
                 const HttpService* service) {
  if (p->table) p->table->Disarm(p->fd);  // the request is in
  service->Decorate(p->req, &r);
  MHD_Response* resp = CreateResponse(r, p->req);
  if (resp == nullptr) return MHD_NO;
  if (!r.content_type.empty() && (!r.body.empty() || r.status != 204)) {
    MHD_add_response_header(resp, "Content-Type", r.content_type.c_str());
  }
  for (const auto& [k, v] : r.headers) {
    MHD_add_response_header(resp, k.c_str(), v.c_str());
  }
  MHD_add_response_header(resp, "X-Request-Id", p->req.request_id.c_str());
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  MHD_Result ret =
      MHD_queue_response(conn, static_cast<unsigned>(r.status), resp);
  MHD_destroy_response(resp);
  Finished(*p, r, service);
  return ret;
}

// A 413 for a body that crossed the limit while it was arriving. MHD 0.9.75
// queues responses only before the body is read or after all of it was
// (MHD_queue_response refuses in between), and reading on means draining for
// as long as the client sends. So the answer is written here, on the socket
// or (over TLS) on the connection's GnuTLS session, which no other thread
// uses while this callback runs; the caller returns MHD_NO so that MHD
// closes the connection.
MHD_Result RefuseMidBody(MHD_Connection* conn, Response r, Pending* p, bool tls,
                         const HttpService* service) {
  if (p->table) p->table->Disarm(p->fd);
  service->Decorate(p->req, &r);
  std::string out =
      "HTTP/1.1 " + std::to_string(r.status) +
      " Payload Too Large\r\nContent-Type: " + r.content_type +
      "\r\nContent-Length: " + std::to_string(r.body.size()) +
      "\r\nConnection: close\r\nX-Request-Id: " + p->req.request_id +
      "\r\nX-Content-Type-Options: nosniff";
  for (const auto& [k, v] : r.headers) out += "\r\n" + k + ": " + v;
  out += "\r\n\r\n" + r.body;
  if (tls) {
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (info != nullptr && info->tls_session != nullptr) {
      auto session = static_cast<gnutls_session_t>(info->tls_session);
      (void)gnutls_record_send(session, out.data(), out.size());
    }
  } else if (p->fd >= 0) {
    (void)send(p->fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(p->fd, SHUT_WR);
  }
  Finished(*p, r, service);
  return MHD_NO;
}

}  // namespace

Status ValidateListenAddress(const std::string& text) {
  return ParseListen(text).status();
}

struct HttpServer::Listener {
  HttpServer* server = nullptr;
  bool admin = false;
  ConnectionTable* table = nullptr;  // null on the admin socket
  std::chrono::seconds timeout{0};   // whole-request deadline
  MHD_Daemon* daemon = nullptr;
  UniqueFd fd;  // the listening socket, closed after the daemon stops
};

// Exposed to the C trampoline below; not part of the public interface.
struct ServerAccess {
  static const HttpService* service(const HttpServer::Listener* l) {
    return l->server->service_;
  }
  static const ServerOptions& opts(const HttpServer::Listener* l) {
    return l->server->opts_;
  }
};

namespace {

MHD_Result OnRequest(void* cls, MHD_Connection* conn, const char* url,
                     const char* method, const char* /*version*/,
                     const char* upload_data, size_t* upload_data_size,
                     void** con_cls) noexcept;
int ConnectionFd(MHD_Connection* conn) {
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  return info ? info->connect_fd : -1;
}

std::chrono::steady_clock::time_point Deadline(const HttpServer::Listener* l) {
  return std::chrono::steady_clock::now() + l->timeout;
}

// A response went out (or the request failed): the next request on this
// connection is due within the timeout from now.
void OnCompleted(void* cls, MHD_Connection* conn, void** con_cls,
                 MHD_RequestTerminationCode /*code*/) noexcept {
  delete static_cast<Pending*>(*con_cls);
  *con_cls = nullptr;
  auto* l = static_cast<HttpServer::Listener*>(cls);
  try {
    if (l->table) l->table->Arm(ConnectionFd(conn), Deadline(l));
  } catch (...) {
  }
}

// Runs before MHD gives a new TCP connection a slot: refuses a peer the
// service does not accept (HttpService::AcceptPeer), and a client (an IPv4
// address, an IPv6 /64) that already holds its share of connections.
MHD_Result OnAccept(void* cls, const sockaddr* addr, socklen_t) noexcept {
  auto* l = static_cast<HttpServer::Listener*>(cls);
  try {
    if (l->table == nullptr) return MHD_YES;  // the admin socket
    std::optional<IpAddress> peer = IpAddress::FromSockaddr(addr);
    if (!peer) return MHD_NO;
    if (!ServerAccess::service(l)->AcceptPeer(*peer)) {
      Log(LogLevel::kDebug, "event=connection_refused source=%s reason=%s",
          peer->ToString().c_str(), "not_allowed");
      return MHD_NO;
    }
    if (!l->table->HasRoom(*peer)) {
      Log(LogLevel::kDebug, "event=connection_refused source=%s reason=%s",
          peer->ToString().c_str(), "per_address_limit");
      return MHD_NO;
    }
    return MHD_YES;
  } catch (...) {
    return MHD_NO;
  }
}

// Counts TCP connections per client and arms the first request's deadline.
void OnConnection(void* cls, MHD_Connection* conn, void** /*socket_context*/,
                  MHD_ConnectionNotificationCode code) noexcept {
  auto* l = static_cast<HttpServer::Listener*>(cls);
  if (l->table == nullptr) return;
  try {
    int fd = ConnectionFd(conn);
    if (code != MHD_CONNECTION_NOTIFY_STARTED) {
      l->table->Closed(fd);
      return;
    }
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    std::optional<IpAddress> peer =
        info ? IpAddress::FromSockaddr(info->client_addr) : std::nullopt;
    if (peer && !l->table->Opened(fd, *peer, Deadline(l))) {
      shutdown(fd, SHUT_RDWR);  // one too many: MHD closes it, Closed() runs
    }
  } catch (...) {
  }
}

void OnMhdLog(void* /*cls*/, const char* fmt, va_list ap) noexcept {
  char buf[512];
  vsnprintf(buf, sizeof buf, fmt, ap);
  size_t n = strlen(buf);
  while (n > 0 && buf[n - 1] == '\n') buf[--n] = '\0';
  Log(LogLevel::kWarn, "event=http msg=\"%s\"", buf);
}

}  // namespace

namespace {

// The first call for a request: what the request line and headers say.
// Returns the number of headers and query parameters, or -1.
int Begin(const HttpServer::Listener* l, MHD_Connection* conn, const char* url,
          const char* method, Pending* p) {
  p->start = std::chrono::steady_clock::now();
  p->admin = l->admin;
  p->req.method = method;
  p->req.path = url;
  p->req.admin_socket = l->admin;
  p->table = l->table;
  p->fd = ConnectionFd(conn);
  char id[24];
  snprintf(id, sizeof id, "%016llx",
           static_cast<unsigned long long>(++g_request_counter));
  p->req.request_id = id;
  int n = MHD_get_connection_values(
      conn, static_cast<MHD_ValueKind>(MHD_HEADER_KIND | MHD_GET_ARGUMENT_KIND),
      &CollectHeader, p);
  if (!l->admin) {
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info && info->client_addr) {
      p->req.peer = IpAddress::FromSockaddr(info->client_addr);
    }
    return n;
  }
  const MHD_ConnectionInfo* fdinfo =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  ucred cred{};
  socklen_t len = sizeof cred;
  if (fdinfo && getsockopt(fdinfo->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred,
                           &len) == 0) {
    p->req.peer_uid = cred.uid;
  }
  return n;
}

// Answers that end the connection carry "Connection: close", so that MHD
// closes it once they are sent instead of reading on.
Response TooLarge(const ServerOptions& opts) {
  return Response::Error(413, "payload_too_large",
                         "request body exceeds " +
                             std::to_string(opts.max_body_bytes) + " bytes")
      .With("Connection", "close");
}

// RFC 9112 §6.3: a request with both Transfer-Encoding and Content-Length, or
// with more than one Content-Length, has no framing that every hop is sure to
// read the same way (request smuggling). Repeated headers arrive joined with
// ", " (CollectHeader), so a comma means a list or a repeat.
std::optional<Response> AmbiguousFraming(const Request& req) {
  const std::string* cl = req.Header("content-length");
  if (cl == nullptr) return std::nullopt;
  const char* why = nullptr;
  if (req.Header("transfer-encoding") != nullptr) {
    why = "a request must not carry both Transfer-Encoding and Content-Length";
  } else if (cl->find(',') != std::string::npos) {
    why = "a request must carry at most one Content-Length";
  } else {
    return std::nullopt;
  }
  return Response::Error(400, "invalid_request", why)
      .With("Connection", "close");
}

// The answer to give before the body is read, if any: too many parameters,
// a refused address, or a declared body over the limit.
std::optional<Response> EarlyAnswer(const HttpService* service,
                                    const ServerOptions& opts, int params,
                                    Pending* p) {
  if (auto ambiguous = AmbiguousFraming(p->req)) return ambiguous;
  if (params < 0 || static_cast<unsigned>(params) > opts.max_params) {
    return Response::Error(431, "request_too_large",
                           "too many headers or query parameters");
  }
  if (auto refused = service->Admit(p->req)) return refused;
  if (const std::string* cl = p->req.Header("content-length")) {
    char* end = nullptr;
    unsigned long long len = strtoull(cl->c_str(), &end, 10);
    if (end == cl->c_str() || *end || len > opts.max_body_bytes) {
      return TooLarge(opts);
    }
  }
  return std::nullopt;
}

MHD_Result OnRequest(void* cls, MHD_Connection* conn, const char* url,
                     const char* method, const char* /*version*/,
                     const char* upload_data, size_t* upload_data_size,
                     void** con_cls) noexcept {
  auto* l = static_cast<HttpServer::Listener*>(cls);
  try {
    const HttpService* service = ServerAccess::service(l);
    const ServerOptions& opts = ServerAccess::opts(l);
    auto* p = static_cast<Pending*>(*con_cls);
    if (p == nullptr) {
      p = new Pending();
      *con_cls = p;
      int params = Begin(l, conn, url, method, p);
      p->early = EarlyAnswer(service, opts, params, p);
      if (p->early) return Queue(conn, *p->early, p, service);
      return MHD_YES;
    }
    if (*upload_data_size > 0) {
      size_t n = *upload_data_size;
      *upload_data_size = 0;
      if (p->too_large) return MHD_YES;  // refused; MHD is closing it
      if (p->req.body.size() + n <= opts.max_body_bytes) {
        p->req.body.append(upload_data, n);
        return MHD_YES;
      }
      // Refuse at once rather than read on for as long as the client sends.
      p->too_large = true;
      p->req.body.clear();
      bool tls = opts.tls_cert_callback != nullptr;
      return RefuseMidBody(conn, TooLarge(opts), p, tls, service);
    }
    if (p->too_large) return MHD_YES;
    return Queue(conn, service->Handle(p->req), p, service);
  } catch (const std::exception& e) {
    Log(LogLevel::kError, "event=http msg=\"handler failed: %s\"", e.what());
  } catch (...) {
    Log(LogLevel::kError, "event=http msg=\"handler failed\"");
  }
  return MHD_NO;
}

}  // namespace

HttpServer::HttpServer(const HttpService* service, ServerOptions opts)
    : service_(service),
      opts_(std::move(opts)),
      table_(std::make_unique<ConnectionTable>(
          opts_.max_connections_per_address)) {}

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const ServerOptions& opts, const HttpService* service) {
  std::unique_ptr<HttpServer> server(new HttpServer(service, opts));
  for (const std::string& addr : opts.listen) {
    std::string bound;
    ASSIGN_OR_RETURN(UniqueFd fd, BindTcp(addr, &bound));
    server->bound_.push_back(bound);
    RETURN_IF_ERROR(server->AddDaemon(std::move(fd), false));
  }
  if (!opts.admin_socket.empty()) {
    ASSIGN_OR_RETURN(UniqueFd fd, BindUnix(opts.admin_socket));
    RETURN_IF_ERROR(server->AddDaemon(std::move(fd), true));
  }
  HttpServer* raw = server.get();
  server->sweeper_ = std::thread([raw] { raw->Sweep(); });
  return server;
}

namespace {

// TLS 1.2 and 1.3 only, AEAD suites with forward secrecy.
void AddTlsOptions(const ServerOptions& opts, unsigned* flags,
                   std::vector<MHD_OptionItem>* o) {
  auto opt = [](MHD_OPTION k, intptr_t v, void* p = nullptr) {
    return MHD_OptionItem{k, v, p};
  };
  if (opts.tls_cert_callback == nullptr) return;
  *flags |= MHD_USE_TLS;
  o->push_back(opt(MHD_OPTION_HTTPS_CERT_CALLBACK, 0, opts.tls_cert_callback));
  o->push_back(
      opt(MHD_OPTION_HTTPS_PRIORITIES, 0, const_cast<char*>(kTlsPriorities)));
}

}  // namespace

Status HttpServer::AddDaemon(UniqueFd fd, bool admin) {
  auto l = std::make_unique<Listener>();
  l->server = this;
  l->admin = admin;
  l->table = admin ? nullptr : table_.get();
  l->timeout = std::chrono::seconds(opts_.connection_timeout_seconds);
  // The admin socket gives each connection its own thread: an admin change
  // stuck in a hung HSM call then holds its own connection only, never the
  // watchdog's GET /healthz or `authctl status` (the TCP listeners share a
  // pool, and only lock-free handlers must answer there while the HSM hangs).
  unsigned flags =
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
      (admin ? MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL : MHD_USE_EPOLL);
  auto opt = [](MHD_OPTION o, intptr_t v, void* p = nullptr) {
    return MHD_OptionItem{o, v, p};
  };
  std::vector<MHD_OptionItem> o = {
      {MHD_OPTION_EXTERNAL_LOGGER, reinterpret_cast<intptr_t>(&OnMhdLog),
       nullptr},
      opt(MHD_OPTION_LISTEN_SOCKET, fd.get()),
      opt(MHD_OPTION_CONNECTION_TIMEOUT, opts_.connection_timeout_seconds),
      opt(MHD_OPTION_CONNECTION_LIMIT,
          admin ? std::min(opts_.max_connections, kAdminConnections)
                : opts_.max_connections),
      opt(MHD_OPTION_CONNECTION_MEMORY_LIMIT,
          static_cast<intptr_t>(opts_.max_header_bytes)),
      {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&OnCompleted),
       l.get()},
      {MHD_OPTION_NOTIFY_CONNECTION, reinterpret_cast<intptr_t>(&OnConnection),
       l.get()},
  };
  if (!admin) {
    if (opts_.threads > 1) {
      o.push_back(opt(MHD_OPTION_THREAD_POOL_SIZE, opts_.threads));
    }
    AddTlsOptions(opts_, &flags, &o);
  }
  o.push_back(opt(MHD_OPTION_END, 0));
  l->daemon =
      MHD_start_daemon(flags, 0, &OnAccept, l.get(), &OnRequest, l.get(),
                       MHD_OPTION_ARRAY, o.data(), MHD_OPTION_END);
  if (l->daemon == nullptr) {
    return Status::Unavailable(
        admin ? "cannot start the admin socket server"
              : "cannot start the HTTP server (check the TLS certificate and "
                "key)");
  }
  l->fd = std::move(fd);
  listeners_.push_back(std::move(l));
  return Status::Ok();
}

// Shuts down every connection whose request is overdue; MHD then sees the
// end of the stream and closes it. Wakes four times a second.
void HttpServer::Sweep() {
  std::unique_lock<std::mutex> lock(sweep_mu_);
  while (!sweep_cv_.wait_for(lock, std::chrono::milliseconds(250),
                             [this] { return stopping_; })) {
    table_->Expire(std::chrono::steady_clock::now(), [](int fd) {
      Log(LogLevel::kInfo, "event=connection_timeout reason=%s",
          "request_deadline");
      shutdown(fd, SHUT_RDWR);
    });
  }
}

void HttpServer::Stop() {
  {
    std::lock_guard<std::mutex> lock(sweep_mu_);
    stopping_ = true;
  }
  sweep_cv_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
  for (auto& l : listeners_) {
    if (l->daemon) MHD_quiesce_daemon(l->daemon);
  }
  for (auto& l : listeners_) {
    if (l->daemon) MHD_stop_daemon(l->daemon);
    l->daemon = nullptr;
    l->fd.reset();
  }
  if (!opts_.admin_socket.empty()) unlink(opts_.admin_socket.c_str());
}

HttpServer::~HttpServer() { Stop(); }

}  // namespace authd::api
