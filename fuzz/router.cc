// A whole request through authd's Router and real handlers, from raw bytes
// over the in-memory transport (fuzz/transport.h) to a fresh World: every
// route, guard, handler, query parameter and body authd serves, with the
// placeholders $TOKEN, $SESSION, $CSRF and $CODE for what an input cannot
// know. Properties: no 5xx but 503 (none is expected: the HSM and storage
// work), every answer's body is empty or valid JSON unless it is a console
// file or the audit export, a refused request changes nothing in the audit
// log, and no answer is 2xx for an admin route without credentials.
#include "common/strict_json.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/transport.h"
#include "fuzz/world.h"

using namespace authd;

namespace {

bool IsJson(const api::Response& r) {
  return r.content_type == "application/json";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<api::Request> req =
      fuzz::ParseRawRequest(fuzz::AsText(data, size));
  if (!req) return 0;
  std::unique_ptr<fuzz::World> world = fuzz::World::Create();
  for (auto& [name, value] : req->headers) value = world->Expand(value);
  req->body = SecureString(world->Expand(std::string(req->body.view())));
  uint64_t entries = world->audit().size();
  api::Response r = world->Send(*req);
  FUZZ_CHECK(r.status >= 200 && r.status < 500);
  if (r.status >= 400) FUZZ_CHECK(world->audit().size() == entries);
  if (IsJson(r) && !r.body.empty()) {
    StatusOr<nlohmann::json> body = ParseStrictJson(r.body);
    FUZZ_CHECK(body.ok() && !body->is_discarded());
  }
  bool credentials = req->admin_socket || req->Header("authorization") ||
                     req->Header("cookie");
  if (req->path.rfind("/v1/admin/", 0) == 0 && !credentials) {
    FUZZ_CHECK(r.status >= 400);
  }
  return 0;
}
