// bench_gen_db: writes a database with many credentials and allowlist
// entries for the memory and start-up figures (bench/report.d/40-memory.sh),
// bound to the HSM the daemon will use, in seconds rather than the hours a
// million audited admin changes would take.
//
// It takes the path the design already has for a database written before
// rows were bound: the rows are inserted without MACs in one transaction,
// then Access::Create (the daemon's own code) finds the HSM without the
// rows-bound mark, gives every row its MAC under K_row in one audited
// `rows.bind` change and writes the mark. From then on the rows verify like
// any other, and the daemon started on the database checks every MAC. Secret
// MACs are random: no one knows a secret for these credentials.
//
//   bench_gen_db --db PATH --token URI --pin-file FILE --origin ORIGIN
//                --credentials N --allowlist M
//
// SOFTHSM2_CONF must name the token's configuration, as for authd.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "audit/audit_log.h"
#include "authority/access.h"
#include "common/cidr.h"
#include "common/clock.h"
#include "common/encoding.h"
#include "hsm/pkcs11_key_ops.h"
#include "storage/sqlite_storage.h"

namespace authd {
namespace {

struct Options {
  std::string db, token, pin_file, origin;
  int64_t credentials = 0, allowlist = 0;
};

[[noreturn]] void Die(const std::string& what) {
  fprintf(stderr, "bench_gen_db: %s\n", what.c_str());
  std::exit(1);
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--db")
      o.db = v;
    else if (k == "--token")
      o.token = v;
    else if (k == "--pin-file")
      o.pin_file = v;
    else if (k == "--origin")
      o.origin = v;
    else if (k == "--credentials")
      o.credentials = std::stoll(v);
    else if (k == "--allowlist")
      o.allowlist = std::stoll(v);
    else
      Die("unknown flag " + k);
  }
  if (o.db.empty() || o.token.empty() || o.pin_file.empty() ||
      o.origin.empty()) {
    Die("usage: --db PATH --token URI --pin-file FILE --origin ORIGIN "
        "--credentials N --allowlist M");
  }
  return o;
}

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

// Half IPv4 (/16 to /32), half IPv6 (/32 to /128), normalized and distinct.
std::string RandomCidr(std::mt19937_64& rng, int64_t i) {
  bool v4 = i % 2 == 0;
  IpAddress a =
      v4 ? IpAddress::FromIpv4(static_cast<uint32_t>(rng()))
         : IpAddress{(Uint128{(rng() >> 3) | (uint64_t{1} << 61)} << 64) |
                     rng()};
  int prefix = v4 ? 16 + static_cast<int>(rng() % 17)
                  : 32 + static_cast<int>(rng() % 97);
  return Cidr::Enclosing(a, prefix)->ToString();
}

Status InsertRows(storage::Storage& db, const Options& o) {
  std::mt19937_64 rng(13);
  const char* roles[] = {"viewer", "operator", "resource-server", "auditor"};
  int64_t now = SystemClock::Get().NowSeconds();
  return db.Write([&](storage::Transaction& tx) -> Status {
    for (int64_t i = 0; i < o.credentials; ++i) {
      RETURN_IF_ERROR(tx.InsertCredential(
          {Base64UrlEncode(RandomBytes(rng, 16)),
           "service " + std::to_string(i), roles[i % 4], RandomBytes(rng, 32),
           now - o.credentials + i, now + 300 * 86400, "uid:0"}));
    }
    for (int64_t i = 0; i < o.allowlist;) {
      Status st = tx.InsertAllowlist({RandomCidr(rng, i), now, "uid:0"});
      if (st.code() == StatusCode::kAlreadyExists) continue;  // drawn twice
      RETURN_IF_ERROR(st);
      ++i;
    }
    return Status::Ok();
  });
}

Status Generate(const Options& o) {
  std::ifstream pin_in(o.pin_file);
  std::stringstream pin;
  pin << pin_in.rdbuf();
  std::string pin_text = pin.str();
  while (!pin_text.empty() && isspace(pin_text.back())) pin_text.pop_back();
  std::vector<std::string> created;
  ASSIGN_OR_RETURN(
      auto keys,
      hsm::Pkcs11KeyOps::Create(
          {"softhsm2", o.token, SecureString(pin_text), 2}, &created));
  ASSIGN_OR_RETURN(auto db, storage::SqliteStorage::Open(o.db));
  RETURN_IF_ERROR(InsertRows(*db, o));
  ASSIGN_OR_RETURN(auto audit, audit::AuditLog::Open(db.get(), keys.get(),
                                                     &SystemClock::Get(),
                                                     o.origin, "bench_gen_db"));
  // Binds every row (one rows.bind entry) and marks the HSM.
  ASSIGN_OR_RETURN(auto access,
                   authority::Access::Create(db.get(), audit.get(), keys.get(),
                                             &SystemClock::Get(),
                                             authority::DefaultRoles()));
  RETURN_IF_ERROR(access->RecordStartup(created));
  if (!access->Current()->failures.empty()) {
    return Status::Internal("generated rows fail their integrity check");
  }
  return Status::Ok();
}

}  // namespace
}  // namespace authd

int main(int argc, char** argv) {
  authd::Options o = authd::ParseArgs(argc, argv);
  authd::Status st = authd::Generate(o);
  if (!st.ok()) authd::Die(st.message());
  return 0;
}
