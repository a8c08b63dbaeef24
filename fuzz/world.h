// World: authd's whole API below the transport, for the fuzz targets that
// drive requests. The real Router with every real handler (api/routes.h),
// over the real Access, AuditLog, KeyRing, TokenService, Revocations,
// FailureLimiter and ConsoleSessions, on a SQLite database held in memory
// (SQLite's memdb VFS) and SoftwareKeyOps in place of the HSM. It is built the
// way tests/testing/router_fixture.h builds its API.
//
// A world starts in a fixed state, so the same input always meets the same
// authd:
//   - the allowlist holds kAllowedV4 and kAllowedV6; kTrustedProxy is a
//     trusted proxy (X-Forwarded-For);
//   - two credentials exist, an "owner" and a "resource-server", whose ids
//     and secrets come from SoftwareKeyOps's deterministic random stream
//     (fuzz_seedgen prints them for the seed files);
//   - the owner holds a token, and a web console session exists;
//   - one [gateway] rule (/api/devices needs devices:control).
// Placeholders let inputs name what cannot be written down in advance
// (Expand): $TOKEN (the owner's access token), $SESSION and $CSRF (the
// console session's cookie value and CSRF token), $CODE (an unused console
// sign-in code).
//
// Not thread-safe; one per fuzz target process at a time. Construction
// aborts on failure: that is a bug in the target, not a finding.
#ifndef AUTHD_FUZZ_WORLD_H_
#define AUTHD_FUZZ_WORLD_H_

#include <atomic>
#include <memory>
#include <string>

#include "api/admin_handler.h"
#include "api/audit_handler.h"
#include "api/check_handler.h"
#include "api/console_handler.h"
#include "api/discovery_handler.h"
#include "api/ops_handler.h"
#include "api/router.h"
#include "api/token_handler.h"
#include "authority/console_sessions.h"
#include "authority/failure_limiter.h"
#include "authority/key_ring.h"
#include "authority/metrics.h"
#include "authority/revocations.h"
#include "authority/token_service.h"
#include "fuzz/audit_key.h"
#include "fuzz/software_key_ops.h"
#include "storage/sqlite_storage.h"

namespace authd::fuzz {

inline constexpr char kIssuer[] = "https://authd.fuzz";
inline constexpr char kAudience[] = "powerhub-api";
inline constexpr char kAllowedV4[] = "192.0.2.0/24";
inline constexpr char kAllowedV6[] = "2001:db8::/32";
inline constexpr char kTrustedProxy[] = "198.51.100.1";
// 2026-01-01T00:00:00Z: the world's time, which moves only by microseconds.
inline constexpr int64_t kNow = 1767225600;

// Time fixed at kNow; each NowMicros() is one microsecond after the last, so
// key labels made from it (KeyRing::Rotate) stay distinct.
class FixedClock final : public Clock {
 public:
  int64_t NowSeconds() const override { return kNow; }
  int64_t NowMicros() const override { return kNow * 1000000 + ticks_++; }

 private:
  mutable std::atomic<int64_t> ticks_{0};
};

struct WorldClient {
  std::string client_id;
  std::string secret;
};

class World {
 public:
  static std::unique_ptr<World> Create();
  ~World();

  // What the libmicrohttpd adapter does with a request: Admit(), then
  // Handle() unless Admit() answered, then Decorate().
  api::Response Send(api::Request req) const;
  // `text` with the placeholders above replaced.
  std::string Expand(std::string text) const;

  const authority::TokenService& tokens() const { return *tokens_; }
  const audit::AuditLog& audit() const { return *audit_; }
  const WorldClient& owner() const { return owner_; }
  const WorldClient& resource_server() const { return resource_server_; }
  const std::string& owner_token() const { return owner_token_; }

 private:
  World() = default;
  Status Build();
  Status Populate();

  SoftwareKeyOps keys_;
  FixedClock clock_;
  std::unique_ptr<storage::SqliteStorage> storage_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::unique_ptr<authority::Access> access_;
  std::unique_ptr<authority::KeyRing> ring_;
  std::unique_ptr<authority::Revocations> revocations_;
  authority::Metrics metrics_;
  std::unique_ptr<authority::FailureLimiter> limiter_;
  std::unique_ptr<authority::TokenService> tokens_;
  std::unique_ptr<api::Readiness> readiness_;
  std::unique_ptr<api::TokenHandler> token_handler_;
  std::unique_ptr<api::CheckHandler> check_;
  std::unique_ptr<api::DiscoveryHandler> discovery_;
  std::unique_ptr<api::OpsHandler> ops_;
  std::unique_ptr<api::AdminHandler> admin_;
  std::unique_ptr<api::AuditHandler> audit_handler_;
  std::unique_ptr<authority::ConsoleSessions> console_sessions_;
  std::unique_ptr<api::ConsoleHandler> console_;
  std::unique_ptr<api::Router> router_;

  WorldClient owner_, resource_server_;
  std::string owner_token_, session_, csrf_, code_;
};

}  // namespace authd::fuzz

#endif  // AUTHD_FUZZ_WORLD_H_
