#include "authority/console_sessions.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>

#include "common/encoding.h"
#include "common/sha256.h"

namespace authd::authority {
namespace {

constexpr size_t kRandomBytes = 32;  // 256 bits: codes and tokens

// 32 random bytes, base64url (43 characters).
StatusOr<SecureString> RandomToken() {
  unsigned char raw[kRandomBytes];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    return Status::Unavailable("the random generator failed");
  }
  SecureString out(std::string_view(
      Base64UrlEncode({reinterpret_cast<const char*>(raw), sizeof raw})));
  OPENSSL_cleanse(raw, sizeof raw);
  return out;
}

// Drops the entry of `map` that `older` ranks first, when the map is full.
template <typename Map, typename Older>
void MakeRoom(Map& map, size_t bound, Older older) {
  while (!map.empty() && map.size() >= bound) {
    map.erase(std::min_element(map.begin(), map.end(),
                               [&](const auto& a, const auto& b) {
                                 return older(a.second, b.second);
                               }));
  }
}

}  // namespace

StatusOr<std::unique_ptr<ConsoleSessions>> ConsoleSessions::Create(
    const Clock* clock, ConsoleLimits limits) {
  std::unique_ptr<ConsoleSessions> s(new ConsoleSessions(clock, limits));
  if (RAND_bytes(s->csrf_key_.data(), s->csrf_key_.size()) != 1) {
    return Status::Unavailable("the random generator failed");
  }
  return s;
}

ConsoleSessions::~ConsoleSessions() {
  OPENSSL_cleanse(csrf_key_.data(), csrf_key_.size());
}

bool ConsoleSessions::Expired(const Session& s, int64_t now) const {
  return now - s.last_used >= limits_.idle_seconds ||
         now - s.created_at >= limits_.absolute_seconds;
}

void ConsoleSessions::SweepLocked(int64_t now) {
  std::erase_if(links_,
                [&](const auto& l) { return l.second.expires_at <= now; });
  std::erase_if(sessions_,
                [&](const auto& s) { return Expired(s.second, now); });
}

ConsoleSession ConsoleSessions::Describe(const Key& key,
                                         const Session& s) const {
  // HMAC-SHA256(csrf_key_, domain label || token hash).
  std::string data = "authd console csrf v1";
  data.push_back('\0');
  data += key;
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, csrf_key_.data(),
                csrf_key_.size(),
                reinterpret_cast<const unsigned char*>(data.data()),
                data.size(), mac, sizeof mac, &len) == nullptr) {
    len = 0;  // an empty token matches nothing: changes are refused
  }
  return {s.actor, s.created_at, s.created_at + limits_.absolute_seconds,
          len == 0 ? std::string()
                   : Base64UrlEncode({reinterpret_cast<char*>(mac), len})};
}

StatusOr<ConsoleLink> ConsoleSessions::CreateLink(unsigned uid) {
  ASSIGN_OR_RETURN(SecureString code, RandomToken());
  int64_t now = clock_->NowSeconds();
  std::lock_guard<std::mutex> lock(mu_);
  SweepLocked(now);
  MakeRoom(links_, limits_.max_links, [](const Link& a, const Link& b) {
    return a.expires_at < b.expires_at;
  });
  Link link{uid, now + limits_.link_seconds};
  links_[Sha256(code.view())] = link;
  return ConsoleLink{std::move(code), link.expires_at};
}

StatusOr<NewConsoleSession> ConsoleSessions::Redeem(std::string_view code) {
  ASSIGN_OR_RETURN(SecureString token, RandomToken());
  int64_t now = clock_->NowSeconds();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = links_.find(Sha256(code));
  if (it == links_.end() || it->second.expires_at <= now) {
    if (it != links_.end()) links_.erase(it);
    return Status::Unauthenticated(
        "this sign-in link has already been used or has expired");
  }
  unsigned uid = it->second.uid;
  links_.erase(it);
  SweepLocked(now);
  MakeRoom(sessions_, limits_.max_sessions,
           [](const Session& a, const Session& b) {
             return a.last_used < b.last_used;
           });
  Key key = Sha256(token.view());
  Session s{"console:uid:" + std::to_string(uid), now, now};
  sessions_[key] = s;
  return NewConsoleSession{std::move(token), Describe(key, s)};
}

StatusOr<ConsoleSession> ConsoleSessions::Authenticate(std::string_view token) {
  int64_t now = clock_->NowSeconds();
  Key key = Sha256(token);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return Status::Unauthenticated("no session");
  if (Expired(it->second, now)) {
    sessions_.erase(it);
    return Status::Unauthenticated("the session has ended");
  }
  it->second.last_used = now;
  return Describe(key, it->second);
}

bool ConsoleSessions::End(std::string_view token) {
  std::lock_guard<std::mutex> lock(mu_);
  return sessions_.erase(Sha256(token)) > 0;
}

bool ConsoleSessions::CsrfMatches(const ConsoleSession& session,
                                  std::string_view presented) {
  const std::string& want = session.csrf_token;
  return !want.empty() && presented.size() == want.size() &&
         CRYPTO_memcmp(presented.data(), want.data(), want.size()) == 0;
}

size_t ConsoleSessions::SessionCount() {
  std::lock_guard<std::mutex> lock(mu_);
  SweepLocked(clock_->NowSeconds());
  return sessions_.size();
}

size_t ConsoleSessions::LinkCount() {
  std::lock_guard<std::mutex> lock(mu_);
  SweepLocked(clock_->NowSeconds());
  return links_.size();
}

}  // namespace authd::authority
