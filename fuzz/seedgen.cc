// fuzz_seedgen OUT_DIR: writes the seed corpora (OUT_DIR/<target>/<name>)
// that fuzz/corpus/ holds. Run it again after a change to the World, the
// fixed keys or a format, and commit what changed:
//   build/bin/fuzz_seedgen fuzz/corpus
// Seeds that need a signature (tokens, checkpoints, exports, proofs) come
// from a World, whose keys and random stream are fixed, so they verify in
// every fuzz run; the rest are written out here as text.
#include <stdio.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/verifier.h"
#include "common/encoding.h"
#include "common/public_key.h"
#include "fuzz/audit_key.h"
#include "fuzz/transport.h"
#include "fuzz/world.h"

using namespace authd;
namespace fs = std::filesystem;

namespace {

fs::path g_out;

void Write(const std::string& target, const std::string& name,
           std::string_view bytes) {
  fs::create_directories(g_out / target);
  std::ofstream(g_out / target / name, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

api::Response Get(const fuzz::World& w, const std::string& path,
                  const std::map<std::string, std::string>& query = {}) {
  api::Request req;
  req.method = "GET";
  req.path = path;
  req.query = query;
  req.admin_socket = true;
  req.peer_uid = 0;
  return w.Send(req);
}

std::string Basic(const fuzz::WorldClient& c) {
  return "Basic " +
         Base64Encode(UrlEncode(c.client_id) + ":" + UrlEncode(c.secret));
}

void Tokens(const fuzz::World& w) {
  Write("jwt", "owner", w.owner_token());
  Write("jwt", "placeholder", "$TOKEN");
  size_t dot = w.owner_token().find('.');
  std::string header = *Base64UrlDecode(w.owner_token().substr(0, dot));
  Write("jwt", "header-only", header);
  Write("basic_auth", "owner", Basic(w.owner()));
  Write("basic_auth", "resource-server", Basic(w.resource_server()));
  Write("basic_auth", "escaped", "Basic " + Base64Encode("a%3Ab:c%25+d"));
  Write("basic_auth", "bearer", "Bearer " + w.owner_token());
  Write("form_body", "token",
        "grant_type=client_credentials&scope=admin%3Aread+audit%3Aread");
  Write("form_body", "post-secret",
        "grant_type=client_credentials&client_id=" + w.owner().client_id +
            "&client_secret=" + UrlEncode(w.owner().secret));
  Write("form_body", "introspect", "token=" + w.owner_token());
  Write("form_body", "odd", "a&&b=&=c&d=%41%2b+x&");
}

void Audit(const fuzz::World& w) {
  std::string note = Get(w, "/v1/admin/audit/checkpoint").body;
  Write("signed_note", "checkpoint", note);
  Write("signed_note", "wrapped", nlohmann::json{{"checkpoint", note}}.dump());
  Write("signed_note", "body", note.substr(0, note.find("\n\n") + 1));
  std::string exported = Get(w, "/v1/admin/audit/export").body;
  Write("export", "export", exported);
  Write("export", "with-kept", exported + "--kept--\n" + note);
  size_t first = exported.find('\n');
  Write("export", "one-line", exported.substr(0, first + 1));
  for (const std::string& line : {exported.substr(0, first)}) {
    auto j = nlohmann::json::parse(line);
    Write("audit_entry", "entry0", *Base64Decode(j["leaf"].get<std::string>()));
  }
  for (int index : {0, 1, 3}) {
    auto p = nlohmann::json::parse(
        Get(w, "/v1/admin/audit/proof", {{"index", std::to_string(index)}})
            .body);
    std::vector<std::string> hashes;
    for (const auto& h : p["hashes"]) {
      hashes.push_back(*Base64Decode(h.get<std::string>()));
    }
    std::string proof = audit::FormatTlogProof(
        index, *Base64Decode(p["leaf"].get<std::string>()), hashes,
        p["checkpoint"].get<std::string>());
    Write("proof", "index" + std::to_string(index), proof);
    Write("audit_entry", "entry" + std::to_string(index),
          *Base64Decode(p["leaf"].get<std::string>()));
  }
  Write("public_key", "audit-pem", Get(w, "/v1/admin/audit/public-key").body);
  std::string raw = std::string(32, '\x01') + std::string(32, '\x7f');
  Write("public_key", "raw-signature", raw);
  Write("public_key", "der-signature", EcdsaRawToDer(raw));
}

void Text() {
  Write("cidr", "mixed",
        "10.0.0.0/8\n192.0.2.1\n2001:db8::/32\n::ffff:10.1.0.0/112\n::/0\n"
        "0.0.0.0/0\nfe80::1%eth0\n10.1.2.3/8\n255.255.255.255/32\n");
  Write("forwarded_for", "chain",
        "\x00"
        "203.0.113.9, 198.51.100.2");
  Write("forwarded_for", "v6",
        "\x01"
        "2001:db8::7 , 2001:db8:ffff::2");
  Write("forwarded_for", "junk",
        "\x00"
        "unknown, 198.51.100.2");
  Write("gateway_path", "dots", "\x01/api/./devices/../devices/%2e%2E/x?y#z");
  Write("gateway_path", "escapes", "\x00/api/v1/data/%7e%2f%41//7");
  Write("encodings", "time", "2027-01-31T00:00:00.123+05:30");
  Write("encodings", "scopes", "admin:read  audit:read admin:read");
  Write("encodings", "bidi",
        "name\xe2\x80\xae"
        "evil");
  std::string merkle = "\x02\x07\x03\x07";
  Write("merkle", "inclusion", merkle);
  Write("merkle", "consistency", "\x06\x07\x02\x05");
  Write("merkle", "frontier",
        std::string("\x01\0\0\0\0\0\0\0\x01", 9) + std::string(32, 'h'));
}

void Config() {
  const std::string base =
      "[server]\nlisten = [\"127.0.0.1:8443\", \"[::1]:8443\"]\n"
      "admin_socket = \"/run/authd/admin.sock\"\n"
      "trusted_proxies = [\"10.0.0.0/8\"]\nthreads = 4\n"
      "[storage]\npath = \"/var/lib/authd/authd.db\"\n"
      "[hsm]\nmodule = \"softhsm2\"\ntoken = \"pkcs11:token=authd\"\n"
      "pin_file = \"/run/credentials/authd.service/hsm-pin\"\n"
      "[tokens]\nissuer = \"https://authd.local\"\n"
      "audience = \"powerhub-api\"\nttl_seconds = 600\n";
  Write("config", "minimal", base);
  Write("config", "full",
        base +
            "algorithm = \"RS256\"\n[log]\nlevel = \"debug\"\n"
            "[audit]\norigin = \"authd.local/audit\"\n"
            "[rate_limit]\nclient_failures = 5\nmax_tracked = 1000\n"
            "[roles.ops]\ndescription = \"d\"\n"
            "scopes = [\"data:read\", \"admin:read\"]\n"
            "[gateway]\ndefault = \"deny\"\n"
            "[[gateway.routes]]\nprefix = \"/api\"\nmethods = [\"GET\"]\n"
            "scopes = [\"data:read\"]\n"
            "[console]\nenabled = true\nurl = \"https://authd.local:8443\"\n");
}

void Admin() {
  // The first byte: endpoint (mod 5) and channel (/5 mod 3), see admin_json.cc.
  Write("admin_json", "credential",
        "\x00{\"name\":\"meter-7\",\"role\":\"viewer\","
        "\"expires_at\":\"2026-03-01T00:00:00Z\",\"reason\":\"r\"}");
  Write("admin_json", "credential-tcp",
        "\x05{\"name\":\"x\",\"role\":\"owner\","
        "\"expires_at\":\"2026-02-01T00:00:00+01:00\"}");
  Write("admin_json", "allowlist", "\x01{\"cidr\":\"203.0.113.0/24\"}");
  Write("admin_json", "allowlist-console",
        "\x0b{\"cidr\":\"2001:db8:1::/48\",\"reason\":\"lab\"}");
  Write("admin_json", "rotate",
        "\x02{\"use\":\"token\",\"algorithm\":\"ES256\"}");
  Write("admin_json", "rotate-rsa",
        "\x02{\"use\":\"token\",\"algorithm\":\"RS256\"}");
  Write("admin_json", "link", "\x03{}");
  Write("admin_json", "session", "\x0e{\"code\":\"$CODE\"}");
}

// Raw requests for the router target (fuzz/transport.h's format).
void Routes(const fuzz::World& w) {
  auto req = [](const std::string& head, const std::string& body = "") {
    return head + "\r\n\r\n" + body;
  };
  const std::string form = "Content-Type: application/x-www-form-urlencoded";
  const std::string json = "Content-Type: application/json";
  Write("router", "token",
        req("POST /v1/auth/token HTTP/1.1\r\n" + form +
                "\r\nAuthorization: " + Basic(w.owner()),
            "grant_type=client_credentials&scope=admin%3Aread"));
  Write("router", "introspect",
        req("POST /v1/auth/introspect HTTP/1.1\r\n" + form +
                "\r\nAuthorization: " + Basic(w.resource_server()),
            "token=$TOKEN"));
  Write("router", "revoke",
        req("POST /v1/auth/revoke HTTP/1.1\r\n" + form +
                "\r\nAuthorization: " + Basic(w.owner()),
            "token=$TOKEN"));
  Write("router", "check",
        req("@peer 198.51.100.1\nGET /v1/auth/check HTTP/1.1\r\n"
            "Authorization: Bearer $TOKEN\r\nX-Forwarded-For: 192.0.2.44\r\n"
            "X-Original-URI: /api/devices/7?x=1\r\nX-Original-Method: POST"));
  Write("router", "jwks", req("GET /.well-known/jwks.json HTTP/1.1"));
  Write("router", "metadata",
        req("GET /.well-known/oauth-authorization-server HTTP/1.1"));
  Write("router", "metrics", req("GET /metrics HTTP/1.1"));
  Write("router", "readyz", req("@peer 203.0.113.5\nGET /readyz HTTP/1.1"));
  Write("router", "status-tcp",
        req("GET /v1/admin/status HTTP/1.1\r\nAuthorization: Bearer $TOKEN"));
  Write("router", "credentials-socket",
        req("@socket 0\nPOST /v1/admin/credentials HTTP/1.1\r\n" + json,
            "{\"name\":\"n\",\"role\":\"viewer\","
            "\"expires_at\":\"2026-02-01T00:00:00Z\"}"));
  Write("router", "delete-credential",
        req("@socket\nDELETE /v1/admin/credentials/" + w.owner().client_id +
            "?reason=gone HTTP/1.1"));
  Write("router", "delete-allowlist",
        req("@peer 2001:db8::1\nDELETE /v1/admin/allowlist/192.0.2.0%2F24 "
            "HTTP/1.1\r\nAuthorization: Bearer $TOKEN"));
  Write("router", "audit-list",
        req("@socket\nGET /v1/admin/audit?since=2025-01-01T00:00:00Z&limit=2"
            "&action=credential.create HTTP/1.1"));
  Write("router", "audit-proof",
        req("@socket\nGET /v1/admin/audit/consistency?from=1&to=3 HTTP/1.1"));
  Write("router", "audit-export-csv",
        req("@socket\nGET /v1/admin/audit/export?format=csv HTTP/1.1"));
  Write("router", "console-asset", req("GET /console/app.js HTTP/1.1"));
  Write("router", "console-session",
        req("POST /console/api/session HTTP/1.1\r\n" + json +
                "\r\nOrigin: https://authd.fuzz\r\nHost: authd.fuzz",
            "{\"code\":\"$CODE\"}"));
  Write("router", "console-create",
        req("POST /console/api/allowlist HTTP/1.1\r\n" + json +
                "\r\nOrigin: https://authd.fuzz\r\nHost: authd.fuzz\r\n"
                "Cookie: a=b; __Host-authd_console=$SESSION\r\n"
                "X-CSRF-Token: $CSRF",
            "{\"cidr\":\"203.0.113.0/24\"}"));
  Write("router", "console-link",
        req("@socket 1000\nPOST /v1/admin/console/links HTTP/1.1\r\n" + json,
            "{}"));
}

std::string Read(const std::string& target, const std::string& name) {
  std::ifstream in(g_out / target / name, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The seeds that should get past the signature checks do, in a new World;
// prints each router seed's answer.
bool SelfCheck() {
  std::unique_ptr<fuzz::World> w = fuzz::World::Create();
  bool ok = w->tokens().VerifyBearer(Read("jwt", "owner")).ok();
  std::string kept = Read("export", "with-kept");
  size_t at = kept.find("--kept--\n");
  ok = ok && audit::VerifyExport(kept.substr(0, at), fuzz::AuditKey(),
                                 kept.substr(at + 9))
                 .ok();
  for (const char* p : {"index0", "index1", "index3"}) {
    ok = ok &&
         audit::VerifyProofFile(Read("proof", p), fuzz::AuditKey(), nullptr)
             .ok();
  }
  for (const auto& e : fs::directory_iterator(g_out / "router")) {
    std::unique_ptr<fuzz::World> fresh = fuzz::World::Create();
    std::string raw = Read("router", e.path().filename());
    std::optional<api::Request> req = fuzz::ParseRawRequest(raw);
    for (auto& [k, v] : req->headers) v = fresh->Expand(v);
    req->body = SecureString(fresh->Expand(std::string(req->body.view())));
    printf("router seed %-20s %d\n", e.path().filename().c_str(),
           fresh->Send(*req).status);
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fuzz_seedgen OUT_DIR\n");
    return 2;
  }
  g_out = argv[1];
  std::unique_ptr<fuzz::World> w = fuzz::World::Create();
  Tokens(*w);
  Audit(*w);
  Text();
  Config();
  Admin();
  Routes(*w);
  printf("seeds written to %s\n", argv[1]);
  if (!SelfCheck()) {
    fprintf(stderr, "fuzz_seedgen: a signed seed does not verify\n");
    return 1;
  }
  return 0;
}
