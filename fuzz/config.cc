// authd.toml: ParseConfig, the parser and validator LoadConfig runs on the
// file (toml++ and every table's checks). Property: an accepted config needs
// no restart against itself, and holds what Finish() promises.
#include "authd/config.h"

#include "fuzz/fuzz_util.h"

using namespace authd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  StatusOr<Config> c =
      ParseConfig(fuzz::AsText(data, size), "/etc/authd/authd.toml");
  if (!c.ok()) {
    FUZZ_CHECK(c.status().code() == StatusCode::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(KeysNeedingRestart(*c, *c).empty());
  FUZZ_CHECK(!c->roles.empty());
  FUZZ_CHECK(!c->audit_origin.empty());
  FUZZ_CHECK(c->hsm_sessions > 0);
  return 0;
}
