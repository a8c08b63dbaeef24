// Every JSON body the administration API takes, through the real Router and
// handlers of a fresh World: credential create, allowlist add, key rotate,
// console sign-in links, console sign-in, and the console's own API. The
// first byte picks the endpoint and the channel (admin socket, TCP with the
// owner's Bearer token, or the console session); the rest is the body.
// Properties: no 5xx, and a refused change leaves the audit log as it was.
#include <array>

#include "fuzz/fuzz_util.h"
#include "fuzz/world.h"

using namespace authd;

namespace {

struct Endpoint {
  const char* path;
  const char* console_path;  // null when the console has none
};

constexpr std::array<Endpoint, 5> kEndpoints = {{
    {"/v1/admin/credentials", "/console/api/credentials"},
    {"/v1/admin/allowlist", "/console/api/allowlist"},
    {"/v1/admin/keys/rotate", nullptr},
    {"/v1/admin/console/links", nullptr},
    {"/console/api/session", "/console/api/session"},
}};

api::Request MakeRequest(const fuzz::World& w, uint8_t selector,
                         std::string_view body) {
  const Endpoint& e = kEndpoints[selector % kEndpoints.size()];
  int channel = (selector / kEndpoints.size()) % 3;
  api::Request req;
  req.method = "POST";
  req.path = e.path;
  req.headers["content-type"] = "application/json";
  req.body = SecureString(w.Expand(std::string(body)));
  if (channel == 0) {
    req.admin_socket = true;
    req.peer_uid = 0;
    return req;
  }
  req.peer = IpAddress::Parse("192.0.2.10");
  if (channel == 1 || e.console_path == nullptr) {
    req.headers["authorization"] = "Bearer " + w.owner_token();
    return req;
  }
  req.path = e.console_path;
  req.headers["origin"] = "https://authd.fuzz";
  req.headers["host"] = "authd.fuzz";
  req.headers["cookie"] = w.Expand("__Host-authd_console=$SESSION");
  req.headers["x-csrf-token"] = w.Expand("$CSRF");
  return req;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::unique_ptr<fuzz::World> world = fuzz::World::Create();
  api::Request req =
      MakeRequest(*world, data[0], fuzz::AsText(data + 1, size - 1));
  uint64_t entries = world->audit().size();
  api::Response r = world->Send(req);
  FUZZ_CHECK(r.status >= 200 && r.status < 500);
  if (r.status >= 400) FUZZ_CHECK(world->audit().size() == entries);
  return 0;
}
