// authctl: local administration of authd over its admin Unix socket.
// Exit status: 0 success, 1 the daemon refused or failed, 2 usage error.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/entry.h"
#include "audit/verifier.h"
#include "authd/admin_client.h"
#include "common/clock.h"
#include "common/encoding.h"
#include "common/public_key.h"
#include "common/strict_json.h"

namespace authd {
namespace {

using nlohmann::json;

constexpr char kUsage[] = R"(usage: authctl [--socket PATH] [--json] COMMAND

commands:
  credential create --name NAME --role ROLE (--expires-in 90d | --expires-at RFC3339) [--reason TEXT]
  credential list
  credential delete CLIENT_ID [--reason TEXT]
  allowlist add CIDR [--reason TEXT]
  allowlist list
  allowlist remove CIDR [--reason TEXT]
  roles
  keys list
  keys rotate --use token [--algorithm ES256|RS256] [--reason TEXT]
  status
  audit export [--since RFC3339] [--output FILE] [--format jsonl|csv]
  audit checkpoint [--output FILE]
  audit verify --file EXPORT --key AUDIT_PUBKEY.pem [--checkpoint KEPT_CHECKPOINT]
  audit prove --index N [--output FILE]
  audit verify-proof --file PROOF --key AUDIT_PUBKEY.pem
  console login

console login prints a one-time link to the web console, valid for 5 minutes.

audit verify and audit verify-proof work offline: no daemon, HSM or network.

--socket defaults to /run/authd/admin.sock.
)";

struct Args {
  std::string socket = "/run/authd/admin.sock";
  bool json = false;
  std::vector<std::string> words;
  std::map<std::string, std::string> flags;
};

int Usage(const std::string& why) {
  fprintf(stderr, "authctl: %s\n%s", why.c_str(), kUsage);
  return 2;
}

// "90d", "12h", "30m", "3600s" or a bare number of seconds.
std::optional<int64_t> ParseDuration(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char unit = s.back();
  std::string digits =
      isdigit(static_cast<unsigned char>(unit)) ? s : s.substr(0, s.size() - 1);
  if (digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  int64_t n = std::stoll(digits);
  switch (unit) {
    case 'd':
      return n * 86400;
    case 'h':
      return n * 3600;
    case 'm':
      return n * 60;
    case 's':
      return n;
    default:
      return isdigit(static_cast<unsigned char>(unit)) ? std::optional(n)
                                                       : std::nullopt;
  }
}

void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  }
  auto line = [&](const std::vector<std::string>& r) {
    std::string out;
    for (size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size()) out += std::string(width[i] - r[i].size() + 2, ' ');
    }
    printf("%s\n", out.c_str());
  };
  line(header);
  for (const auto& r : rows) line(r);
}

std::string Str(const json& j, const char* k) {
  if (!j.contains(k) || j[k].is_null()) return "-";
  return j[k].is_string() ? j[k].get<std::string>() : j[k].dump();
}

class Ctl {
 public:
  explicit Ctl(Args args) : a_(std::move(args)) {}

  int Run() {
    const auto& w = a_.words;
    if (w.empty()) return Usage("no command given");
    std::string cmd = w[0] + (w.size() > 1 ? " " + w[1] : "");
    if (cmd == "credential create" && w.size() == 2) return CredentialCreate();
    if (cmd == "credential list" && w.size() == 2) return CredentialList();
    if (cmd == "credential delete" && w.size() == 3) {
      return Delete("/v1/admin/credentials/" + UrlEncode(w[2]),
                    "deleted credential " + w[2]);
    }
    if (cmd == "allowlist add" && w.size() == 3) return AllowlistAdd(w[2]);
    if (cmd == "allowlist list" && w.size() == 2) return AllowlistList();
    if (cmd == "allowlist remove" && w.size() == 3) {
      return Delete("/v1/admin/allowlist/" + UrlEncode(w[2]),
                    "removed " + w[2] + " from the allowlist");
    }
    if (w[0] == "roles" && w.size() == 1) return Roles();
    if (cmd == "keys list" && w.size() == 2) return KeysList();
    if (cmd == "keys rotate" && w.size() == 2) return KeysRotate();
    if (w[0] == "status" && w.size() == 1) return StatusCmd();
    if (cmd == "audit export" && w.size() == 2) return AuditExport();
    if (cmd == "audit checkpoint" && w.size() == 2) return AuditCheckpoint();
    if (cmd == "audit verify" && w.size() == 2) return AuditVerify();
    if (cmd == "audit prove" && w.size() == 2) return AuditProve();
    if (cmd == "audit verify-proof" && w.size() == 2) return AuditVerifyProof();
    if (cmd == "console login" && w.size() == 2) return ConsoleLogin();
    return Usage("unknown command '" + cmd + "'");
  }

 private:
  // Sends one request; on success stores the JSON answer in *out.
  int Call(const std::string& method, const std::string& path, const json& body,
           json* out) {
    StatusOr<HttpReply> r = AdminRequest(a_.socket, method, path,
                                         body.is_null() ? "" : body.dump());
    if (!r.ok()) {
      fprintf(stderr, "authctl: %s\n", r.status().message().c_str());
      return 1;
    }
    StatusOr<json> strict =
        r->body.empty() ? StatusOr<json>(json()) : ParseStrictJson(r->body);
    if (!strict.ok()) {
      fprintf(stderr, "authctl: answer: %s\n",
              strict.status().message().c_str());
      return 1;
    }
    json parsed = std::move(strict).value();
    if (r->status >= 300) {
      std::string msg = parsed.is_object() && parsed.contains("message")
                            ? Str(parsed, "message")
                            : r->body;
      fprintf(stderr, "authctl: %s (HTTP %d)\n", msg.c_str(), r->status);
      return 1;
    }
    if (out) *out = std::move(parsed);
    return 0;
  }

  std::optional<std::string> Flag(const std::string& name) const {
    auto it = a_.flags.find(name);
    if (it == a_.flags.end()) return std::nullopt;
    return it->second;
  }

  int CredentialCreate() {
    auto name = Flag("name"), role = Flag("role");
    if (!name || !role)
      return Usage("credential create needs --name and --role");
    std::string expires;
    if (auto at = Flag("expires-at")) {
      expires = *at;
    } else if (auto in = Flag("expires-in")) {
      std::optional<int64_t> d = ParseDuration(*in);
      if (!d || *d <= 0) {
        return Usage("--expires-in takes a duration such as 90d, 12h or 30m");
      }
      expires = FormatRfc3339(SystemClock::Get().NowSeconds() + *d);
    } else {
      return Usage("credential create needs --expires-in or --expires-at");
    }
    json body = {{"name", *name}, {"role", *role}, {"expires_at", expires}};
    if (auto reason = Flag("reason")) body["reason"] = *reason;
    json out;
    if (int rc = Call("POST", "/v1/admin/credentials", body, &out)) return rc;
    if (a_.json) {
      printf("%s\n", out.dump(2).c_str());
    } else {
      printf("client_id:     %s\n", Str(out, "client_id").c_str());
      printf("client_secret: %s\n", Str(out, "client_secret").c_str());
      printf("name:          %s\n", Str(out, "name").c_str());
      printf("role:          %s\n", Str(out, "role").c_str());
      printf("expires_at:    %s\n", Str(out, "expires_at").c_str());
      fprintf(stderr,
              "authctl: the secret is shown only this once; store it now.\n");
    }
    return 0;
  }

  // GET `path`, then print the JSON array as JSON or as an aligned table
  // with one `row(item)` per element.
  int List(const std::string& path, const std::vector<std::string>& header,
           const std::function<std::vector<std::string>(const json&)>& row) {
    json out;
    if (int rc = Call("GET", path, nullptr, &out)) return rc;
    if (a_.json) return printf("%s\n", out.dump(2).c_str()), 0;
    std::vector<std::vector<std::string>> rows;
    for (const auto& item : out) rows.push_back(row(item));
    PrintTable(header, rows);
    return 0;
  }

  int CredentialList() {
    return List(
        "/v1/admin/credentials",
        {"CLIENT_ID", "NAME", "ROLE", "CREATED", "EXPIRES", "CREATED_BY"},
        [](const json& c) -> std::vector<std::string> {
          bool expired = c.value("expired", false);
          bool role = c.value("role_exists", true);
          return {Str(c, "client_id"),
                  Str(c, "name"),
                  Str(c, "role") + (role ? "" : " REMOVED"),
                  Str(c, "created_at"),
                  Str(c, "expires_at") + (expired ? " EXPIRED" : ""),
                  Str(c, "created_by")};
        });
  }

  int AllowlistAdd(const std::string& cidr) {
    json body = {{"cidr", cidr}};
    if (auto reason = Flag("reason")) body["reason"] = *reason;
    json out;
    if (int rc = Call("POST", "/v1/admin/allowlist", body, &out)) return rc;
    if (a_.json) return printf("%s\n", out.dump(2).c_str()), 0;
    printf("added %s to the allowlist\n", Str(out, "cidr").c_str());
    return 0;
  }

  int AllowlistList() {
    return List(
        "/v1/admin/allowlist", {"CIDR", "CREATED", "CREATED_BY"},
        [](const json& e) -> std::vector<std::string> {
          return {Str(e, "cidr"), Str(e, "created_at"), Str(e, "created_by")};
        });
  }

  int Delete(std::string path, const std::string& done) {
    if (auto reason = Flag("reason")) path += "?reason=" + UrlEncode(*reason);
    if (int rc = Call("DELETE", path, nullptr, nullptr)) return rc;
    if (a_.json) {
      printf("{}\n");
    } else {
      printf("%s\n", done.c_str());
    }
    return 0;
  }

  int Roles() {
    return List("/v1/admin/roles", {"ROLE", "SCOPES", "DESCRIPTION"},
                [](const json& r) -> std::vector<std::string> {
                  std::string scopes;
                  for (const auto& x : r.value("scopes", json::array())) {
                    scopes +=
                        (scopes.empty() ? "" : " ") + x.get<std::string>();
                  }
                  return {Str(r, "name"), scopes, Str(r, "description")};
                });
  }

  int KeysList() {
    return List("/v1/admin/keys",
                {"USE", "KID", "ALGORITHM", "CREATED", "STATE"},
                [](const json& k) -> std::vector<std::string> {
                  return {Str(k, "use"), Str(k, "kid"), Str(k, "algorithm"),
                          Str(k, "created_at"), Str(k, "state")};
                });
  }

  int KeysRotate() {
    auto use = Flag("use");
    if (!use) return Usage("keys rotate needs --use token");
    json body = {{"use", *use}};
    if (auto alg = Flag("algorithm")) body["algorithm"] = *alg;
    if (auto reason = Flag("reason")) body["reason"] = *reason;
    json out;
    if (int rc = Call("POST", "/v1/admin/keys/rotate", body, &out)) return rc;
    if (a_.json) return printf("%s\n", out.dump(2).c_str()), 0;
    printf(
        "new token key %s (%s) is active; the previous key stays in the "
        "JWKS until its tokens expire\n",
        Str(out, "kid").c_str(), Str(out, "algorithm").c_str());
    return 0;
  }

  int StatusCmd() {
    json out;
    if (int rc = Call("GET", "/v1/admin/status", nullptr, &out)) return rc;
    if (a_.json) return printf("%s\n", out.dump(2).c_str()), 0;
    for (const auto& [k, v] : out.items()) {
      if (k == "integrity_failures") continue;  // listed below
      printf("%-12s %s\n", (k + ":").c_str(),
             v.is_string() ? v.get<std::string>().c_str() : v.dump().c_str());
    }
    // Each row that failed its integrity check, and how to resolve it. The
    // table, key and problem come from the database: printed inert.
    for (const json& f : out.value("integrity_failures", json::array())) {
      printf("  %s %s: %s\n    resolve: %s\n", Inert(Str(f, "table")).c_str(),
             Inert(Str(f, "key")).c_str(), Inert(Str(f, "problem")).c_str(),
             Inert(Str(f, "resolve")).c_str());
    }
    return 0;
  }

  // `s` with control characters (terminal escapes) replaced by '?'.
  static std::string Inert(std::string s) {
    for (char& c : s) {
      unsigned char u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) c = '?';
    }
    return s;
  }

  // Writes `text` to --output, or stdout.
  int Emit(const std::string& text) {
    if (auto path = Flag("output")) {
      std::ofstream out(*path, std::ios::binary | std::ios::trunc);
      out << text;
      if (!out.flush()) {
        fprintf(stderr, "authctl: cannot write %s\n", path->c_str());
        return 1;
      }
      return 0;
    }
    fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }

  // Reads a local file for the offline commands; sets rc on failure.
  std::optional<std::string> ReadLocal(const std::string& flag, int* rc) {
    auto path = Flag(flag);
    if (!path) {
      *rc = Usage("--" + flag + " is required");
      return std::nullopt;
    }
    std::ifstream in(*path, std::ios::binary);
    if (!in) {
      fprintf(stderr, "authctl: cannot read %s\n", path->c_str());
      *rc = 1;
      return std::nullopt;
    }
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::optional<PublicKey> ReadKey(int* rc) {
    auto pem = ReadLocal("key", rc);
    if (!pem) return std::nullopt;
    auto key = PublicKey::FromPem(*pem);
    if (!key.ok()) {
      fprintf(stderr, "authctl: --key: %s\n", key.status().message().c_str());
      *rc = 1;
      return std::nullopt;
    }
    return *key;
  }

  StatusOr<std::string> FetchText(const std::string& path) {
    ASSIGN_OR_RETURN(HttpReply r, AdminRequest(a_.socket, "GET", path));
    if (r.status != 200) {
      StatusOr<json> parsed = ParseStrictJson(r.body);
      json j = parsed.ok() ? std::move(parsed).value() : json();
      return Status::Unavailable(j.is_object() ? Str(j, "message") : r.body);
    }
    return r.body;
  }

  // The server builds the file (GET /v1/admin/audit/export): the latest
  // checkpoint and exactly the entries it covers.
  int AuditExport() {
    std::string format = Flag("format").value_or("jsonl");
    if (format != "jsonl" && format != "csv") {
      return Usage("--format takes jsonl or csv");
    }
    std::string path = "/v1/admin/audit/export?format=" + format;
    if (auto since = Flag("since")) path += "&since=" + UrlEncode(*since);
    return StreamTo(path);
  }

  // GETs `path` and writes the body to --output (through a temporary file
  // renamed into place once complete, so an interrupted export leaves no
  // half file under the name) or stdout, as it arrives.
  int StreamTo(const std::string& path) {
    std::optional<std::string> output = Flag("output");
    std::string partial = output ? *output + ".partial" : "";
    FILE* out = output ? fopen(partial.c_str(), "wb") : stdout;
    if (out == nullptr) {
      fprintf(stderr, "authctl: cannot write %s\n", partial.c_str());
      return 1;
    }
    StatusOr<HttpReply> r = AdminRequestStream(
        a_.socket, "GET", path, [&](std::string_view piece) -> Status {
          if (fwrite(piece.data(), 1, piece.size(), out) != piece.size()) {
            return Status::Unavailable("cannot write " +
                                       (output ? partial : "stdout"));
          }
          return Status::Ok();
        });
    Status st = r.ok() ? ReplyStatus(*r) : r.status();
    if (fflush(out) != 0 && st.ok()) st = Status::Unavailable("cannot write");
    if (output && fclose(out) != 0 && st.ok()) {
      st = Status::Unavailable("cannot write " + partial);
    }
    if (output && st.ok() && rename(partial.c_str(), output->c_str()) != 0) {
      st = Status::Unavailable("cannot write " + *output);
    }
    if (!st.ok()) {
      if (output) remove(partial.c_str());
      fprintf(stderr, "authctl: %s\n", st.message().c_str());
      return 1;
    }
    return 0;
  }

  // OK for a 2xx answer, else the daemon's message.
  static Status ReplyStatus(const HttpReply& r) {
    if (r.status >= 200 && r.status < 300) return Status::Ok();
    StatusOr<json> parsed = ParseStrictJson(r.body);
    json j = parsed.ok() ? std::move(parsed).value() : json();
    return Status::Unavailable(j.is_object() ? Str(j, "message") : r.body);
  }

  int ConsoleLogin() {
    json out;
    if (int rc = Call("POST", "/v1/admin/console/links", json::object(), &out))
      return rc;
    if (a_.json) return printf("%s\n", out.dump(2).c_str()), 0;
    printf("%s\nValid for 5 minutes and for one sign-in.\n",
           Str(out, "url").c_str());
    return 0;
  }

  int AuditCheckpoint() {
    StatusOr<std::string> note = FetchText("/v1/admin/audit/checkpoint");
    if (!note.ok()) {
      fprintf(stderr, "authctl: %s\n", note.status().message().c_str());
      return 1;
    }
    return Emit(*note);
  }

  int AuditVerify() {
    int rc = 0;
    auto key = ReadKey(&rc);
    if (!key) return rc;
    auto path = Flag("file");
    if (!path) return Usage("--file is required");
    std::ifstream in(*path, std::ios::binary);
    if (!in) {
      fprintf(stderr, "authctl: cannot read %s\n", path->c_str());
      return 1;
    }
    std::optional<std::string> kept;
    if (Flag("checkpoint")) {
      kept = ReadLocal("checkpoint", &rc);
      if (!kept) return rc;
    }
    auto result = VerifyStream(
        in, *key, kept ? std::optional<std::string_view>(*kept) : std::nullopt);
    if (!result.ok()) {
      fprintf(stderr, "authctl: audit verify FAILED: %s\n",
              result.status().message().c_str());
      return 1;
    }
    std::string msg = "audit verify OK: " + std::to_string(result->entries) +
                      " entries, tree size " +
                      std::to_string(result->checkpoint.size) + ", root " +
                      Base64Encode(result->checkpoint.root_hash) +
                      ", signed by " + result->checkpoint.origin;
    if (result->earlier) {
      msg += "; consistent with the kept checkpoint at size " +
             std::to_string(result->earlier->size);
    }
    printf("%s\n", msg.c_str());
    if (!result->earlier) {
      fprintf(stderr,
              "authctl: note: without --checkpoint (one you kept earlier), an "
              "export cut short together with its checkpoint cannot be told "
              "from a complete one; keep this checkpoint for next time.\n");
    }
    return 0;
  }

  // The export read line by line, a batch of lines at a time: memory holds
  // one batch and the Merkle frontier, whatever the size of the log.
  static StatusOr<audit::ExportSummary> VerifyStream(
      std::istream& in, const PublicKey& key,
      std::optional<std::string_view> kept) {
    ASSIGN_OR_RETURN(audit::ExportVerifier v,
                     audit::ExportVerifier::Create(key, kept));
    std::vector<std::string> batch(audit::kVerifyBatch);
    size_t n = 0;
    while (std::getline(in, batch[n])) {
      if (++n < batch.size()) continue;
      RETURN_IF_ERROR(v.AddLines(batch));
      n = 0;
    }
    if (in.bad()) return Status::Unavailable("cannot read the export file");
    batch.resize(n);
    RETURN_IF_ERROR(v.AddLines(batch));
    return v.Finish();
  }

  int AuditProve() {
    auto index = Flag("index");
    if (!index || index->empty() ||
        index->find_first_not_of("0123456789") != std::string::npos) {
      return Usage("audit prove needs --index N");
    }
    json proof;
    if (int rc = Call("GET", "/v1/admin/audit/proof?index=" + *index, nullptr,
                      &proof)) {
      return rc;
    }
    std::vector<std::string> hashes;
    for (const auto& h : proof["hashes"]) {
      hashes.push_back(Base64Decode(h.get<std::string>()).value_or(""));
    }
    std::string leaf =
        Base64Decode(proof["leaf"].get<std::string>()).value_or("");
    return Emit(audit::FormatTlogProof(proof["index"].get<uint64_t>(), leaf,
                                       hashes,
                                       proof["checkpoint"].get<std::string>()));
  }

  int AuditVerifyProof() {
    int rc = 0;
    auto key = ReadKey(&rc);
    if (!key) return rc;
    auto text = ReadLocal("file", &rc);
    if (!text) return rc;
    std::string leaf;
    auto cp = audit::VerifyProofFile(*text, *key, &leaf);
    if (!cp.ok()) {
      fprintf(stderr, "authctl: audit verify-proof FAILED: %s\n",
              cp.status().message().c_str());
      return 1;
    }
    json entry = audit::AuditEntryJson(leaf).value();
    entry.erase("leaf");
    printf("audit verify-proof OK: entry %s is in the log %s of size %s\n%s\n",
           entry["seq"].dump().c_str(), cp->origin.c_str(),
           std::to_string(cp->size).c_str(), entry.dump().c_str());
    return 0;
  }

  Args a_;
};

}  // namespace
}  // namespace authd

int main(int argc, char** argv) {
  authd::Args args;
  static const char* kValued[] = {
      "name",   "role",       "expires-in", "expires-at", "reason",
      "socket", "since",      "output",     "format",     "file",
      "key",    "checkpoint", "index",      "use",        "algorithm"};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json") {
      args.json = true;
    } else if (a == "--help" || a == "-h") {
      fputs(authd::kUsage, stdout);
      return 0;
    } else if (a.rfind("--", 0) == 0) {
      std::string name = a.substr(2), value;
      size_t eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return authd::Usage("--" + name + " needs a value");
      }
      if (std::find(std::begin(kValued), std::end(kValued), name) ==
          std::end(kValued)) {
        return authd::Usage("unknown option --" + name);
      }
      if (name == "socket") {
        args.socket = value;
      } else {
        args.flags[name] = value;
      }
    } else {
      args.words.push_back(a);
    }
  }
  try {
    return authd::Ctl(std::move(args)).Run();
  } catch (const std::exception& e) {
    fprintf(stderr, "authctl: %s\n", e.what());
    return 1;
  }
}
