#include "fuzz/world.h"

#include <stdio.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>

#include "api/routes.h"
#include "common/log.h"

namespace authd::fuzz {
namespace {

// A database name of its own for each World. SqliteStorage::Open creates the
// file (mode 0600) before SQLite opens it, so it lies in a writable
// directory and is removed again at once: the memdb VFS keeps the database
// itself in memory, shared by name, and frees it when the connection closes.
std::string NewDatabasePath() {
  static const std::string* dir = [] {
    auto* d = new std::string(
        (std::filesystem::temp_directory_path() / "authd-fuzz-XXXXXX")
            .string());
    if (mkdtemp(d->data()) == nullptr) abort();
    atexit([] { std::filesystem::remove_all(*dir); });
    return d;
  }();
  static std::atomic<uint64_t> next{0};
  return *dir + "/authd-" + std::to_string(next++) + ".db";
}

const authority::Actor kRoot{"uid:0", "unix", /*holds_all_scopes=*/true, {}};

authority::GatewayPolicy Policy() {
  authority::GatewayPolicy p;
  p.routes.push_back({"/api/devices", {"POST", "PUT"}, {"devices:control"}});
  p.routes.push_back({"/api", {}, {"data:read"}});
  return p;
}

}  // namespace

std::unique_ptr<World> World::Create() {
  // A log line per input would drown libFuzzer's output (LogSafe has its
  // own coverage in the encodings target).
  SetLogLevel(LogLevel::kError);
  std::unique_ptr<World> w(new World());
  Status st = w->Build();
  if (st.ok()) st = w->Populate();
  if (!st.ok()) {
    fprintf(stderr, "fuzz world: %s\n", st.message().c_str());
    abort();
  }
  return w;
}

World::~World() {
  // Handlers and the router refer to what is below them: tear down top first.
  router_.reset();
  console_.reset();
  audit_handler_.reset();
  admin_.reset();
  ops_.reset();
  discovery_.reset();
  check_.reset();
  token_handler_.reset();
  readiness_.reset();
  tokens_.reset();
  ring_.reset();
  access_.reset();
  audit_.reset();
  storage_.reset();
}

Status World::Build() {
  std::string path = NewDatabasePath();
  ASSIGN_OR_RETURN(storage_, storage::SqliteStorage::Open(path, "memdb"));
  std::filesystem::remove(path);
  ASSIGN_OR_RETURN(audit_, audit::AuditLog::Open(storage_.get(), &keys_,
                                                 &clock_, kFuzzOrigin, "fuzz"));
  ASSIGN_OR_RETURN(
      access_, authority::Access::Create(storage_.get(), audit_.get(), &keys_,
                                         &clock_, authority::DefaultRoles()));
  ASSIGN_OR_RETURN(ring_, authority::KeyRing::Open(storage_.get(), audit_.get(),
                                                   &keys_, &clock_, 600));
  ASSIGN_OR_RETURN(revocations_,
                   authority::Revocations::Load(storage_.get(), &clock_));
  limiter_ = std::make_unique<authority::FailureLimiter>(
      &clock_, authority::LimiterOptions{});
  tokens_ = std::make_unique<authority::TokenService>(
      ring_.get(), access_.get(), limiter_.get(), revocations_.get(), &clock_,
      authority::TokenOptions{kIssuer, kAudience, 600});
  readiness_ = std::make_unique<api::Readiness>(&keys_, audit_.get());
  readiness_->Set(true);
  token_handler_ =
      std::make_unique<api::TokenHandler>(tokens_.get(), &metrics_);
  check_ = std::make_unique<api::CheckHandler>(tokens_.get(), access_.get(),
                                               Policy(), &metrics_);
  discovery_ = std::make_unique<api::DiscoveryHandler>(
      ring_.get(), access_.get(), tokens_.get(), &clock_);
  ops_ = std::make_unique<api::OpsHandler>(
      api::OpsHandler::Deps{readiness_.get(), access_.get(), audit_.get(),
                            revocations_.get(), &metrics_, nullptr, "fuzz"});
  admin_ = std::make_unique<api::AdminHandler>(
      api::AdminHandler::Deps{access_.get(), audit_.get(), ring_.get(), &keys_,
                              &clock_, readiness_.get(), &metrics_, "fuzz"});
  audit_handler_ = std::make_unique<api::AuditHandler>(audit_.get(), &keys_);
  ASSIGN_OR_RETURN(console_sessions_,
                   authority::ConsoleSessions::Create(&clock_));
  console_ = std::make_unique<api::ConsoleHandler>(
      console_sessions_.get(),
      api::ConsoleOptions{true, true, "authd", kIssuer, "https://authd.fuzz"});
  router_ = std::make_unique<api::Router>(
      api::AuthdRoutes({token_handler_.get(), check_.get(), discovery_.get(),
                        ops_.get(), admin_.get(), audit_handler_.get(),
                        console_.get()}),
      access_.get(), tokens_.get(),
      std::vector<Cidr>{Cidr::Parse(kTrustedProxy).value()}, &metrics_,
      api::ConsoleAuth{console_sessions_.get(), true, ""});
  return Status::Ok();
}

Status World::Populate() {
  for (const char* cidr : {kAllowedV4, kAllowedV6}) {
    RETURN_IF_ERROR(access_->AddAllowlist(cidr, kRoot).status());
  }
  int64_t expires = kNow + 30 * 86400;
  ASSIGN_OR_RETURN(
      authority::CreatedCredential owner,
      access_->CreateCredential({"fuzz-owner", "owner", expires, ""}, kRoot));
  owner_ = {owner.credential.client_id,
            std::string(owner.client_secret.view())};
  ASSIGN_OR_RETURN(authority::CreatedCredential rs,
                   access_->CreateCredential(
                       {"fuzz-rs", "resource-server", expires, ""}, kRoot));
  resource_server_ = {rs.credential.client_id,
                      std::string(rs.client_secret.view())};
  authority::TokenOutcome issued =
      tokens_->Issue({{owner_.client_id, owner_.secret, "192.0.2.1"}, {}});
  RETURN_IF_ERROR(issued.status);
  owner_token_ = issued.token.access_token;
  ASSIGN_OR_RETURN(authority::ConsoleLink link,
                   console_sessions_->CreateLink(0));
  ASSIGN_OR_RETURN(authority::NewConsoleSession session,
                   console_sessions_->Redeem(link.code.view()));
  session_ = std::string(session.token.view());
  csrf_ = session.session.csrf_token;
  ASSIGN_OR_RETURN(link, console_sessions_->CreateLink(0));
  code_ = std::string(link.code.view());
  return Status::Ok();
}

api::Response World::Send(api::Request req) const {
  std::optional<api::Response> r = router_->Admit(req);
  if (!r) r = router_->Handle(req);
  router_->Decorate(req, &*r);
  return *r;
}

std::string World::Expand(std::string text) const {
  for (const auto& [name, value] :
       {std::pair<std::string_view, const std::string*>{"$TOKEN",
                                                        &owner_token_},
        {"$SESSION", &session_},
        {"$CSRF", &csrf_},
        {"$CODE", &code_}}) {
    for (size_t at = text.find(name); at != std::string::npos;
         at = text.find(name, at + value->size())) {
      text.replace(at, name.size(), *value);
    }
  }
  return text;
}

}  // namespace authd::fuzz
