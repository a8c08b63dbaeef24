// ConsoleSessions: the web console's one-time sign-in codes and its sessions
// (SPEC "Web console"), in memory only, so a restart ends every session.
//
// `authctl console login` asks the admin socket for a code (CreateLink): 32
// random bytes from OpenSSL's generator, base64url, valid for one sign-in
// within 5 minutes. The browser exchanges it for a session (Redeem), whose
// token, again 32 random bytes, travels only in an HttpOnly cookie. The store
// keeps neither: codes and tokens are kept as their SHA-256, so a memory dump
// or a log of this object's state grants nothing. The CSRF token of a
// session is an HMAC of its token hash under a key drawn per process, so it
// needs no storage either and dies with the process.
//
// A session ends after `idle_seconds` without use, `absolute_seconds` after
// sign-in, or at sign-out (End). Expired entries are swept whenever a code or
// a session is added; each map is bounded, and a full one drops its oldest
// entry (the code closest to expiry, the session idle longest).
//
// The random values come from OpenSSL, not the HSM: sign-ins are rare and the
// HSM's sessions are for token signatures. Thread-safe: one mutex guards both
// maps; every call is O(bound).
#ifndef AUTHD_AUTHORITY_CONSOLE_SESSIONS_H_
#define AUTHD_AUTHORITY_CONSOLE_SESSIONS_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/secure_string.h"
#include "common/status.h"

namespace authd::authority {

struct ConsoleLimits {
  int64_t link_seconds = 5 * 60;
  int64_t idle_seconds = 30 * 60;
  int64_t absolute_seconds = 8 * 3600;
  size_t max_sessions = 64;
  size_t max_links = 64;
};

// A sign-in code, shown once to the uid that asked.
struct ConsoleLink {
  SecureString code;  // 43 characters, base64url
  int64_t expires_at = 0;
};

// What the store tells about a live session.
struct ConsoleSession {
  std::string actor;       // "console:uid:<n>": the audit log's actor
  int64_t created_at = 0;  // sign-in time
  int64_t expires_at = 0;  // the absolute end; idleness may end it sooner
  std::string csrf_token;  // 43 characters; sent back in X-CSRF-Token
};

// A session just started: the cookie value, shown once.
struct NewConsoleSession {
  SecureString token;  // 43 characters, base64url
  ConsoleSession session;
};

class ConsoleSessions {
 public:
  // Draws the CSRF key. Unavailable when OpenSSL's generator fails.
  static StatusOr<std::unique_ptr<ConsoleSessions>> Create(
      const Clock* clock, ConsoleLimits limits = {});
  ConsoleSessions(const ConsoleSessions&) = delete;
  ConsoleSessions& operator=(const ConsoleSessions&) = delete;
  ~ConsoleSessions();

  // A new code whose session will act as "console:uid:<uid>".
  StatusOr<ConsoleLink> CreateLink(unsigned uid);
  // Exchanges a code for a session. The code is spent whatever the outcome.
  // Unauthenticated when the code is unknown, used or expired.
  StatusOr<NewConsoleSession> Redeem(std::string_view code);
  // The session of a cookie value, whose idle time starts again.
  // Unauthenticated when there is none, or it ended (and is then dropped).
  StatusOr<ConsoleSession> Authenticate(std::string_view token);
  // Signs out. False when the token names no session.
  bool End(std::string_view token);

  // Constant-time comparison of a presented CSRF token with the session's.
  static bool CsrfMatches(const ConsoleSession& session,
                          std::string_view presented);

  const ConsoleLimits& limits() const { return limits_; }
  // Live entries, after sweeping the expired ones.
  size_t SessionCount();
  size_t LinkCount();

 private:
  struct Link {
    unsigned uid = 0;
    int64_t expires_at = 0;
  };
  struct Session {
    std::string actor;
    int64_t created_at = 0;
    int64_t last_used = 0;
  };
  using Key = std::string;  // SHA-256 of a code or token

  ConsoleSessions(const Clock* clock, ConsoleLimits limits)
      : clock_(clock), limits_(limits) {}
  bool Expired(const Session& s, int64_t now) const;
  // REQUIRES: mu_ is held.
  void SweepLocked(int64_t now);
  ConsoleSession Describe(const Key& key, const Session& s) const;

  const Clock* clock_;
  const ConsoleLimits limits_;
  std::array<unsigned char, 32> csrf_key_{};  // wiped in the destructor
  std::mutex mu_;
  std::map<Key, Link> links_;        // GUARDED_BY(mu_)
  std::map<Key, Session> sessions_;  // GUARDED_BY(mu_)
};

}  // namespace authd::authority

#endif  // AUTHD_AUTHORITY_CONSOLE_SESSIONS_H_
