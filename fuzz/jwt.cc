// Bearer JWTs: VerifyJwt against the world's token key (ES256) and an RS256
// key, then TokenService::VerifyBearer, the check every admin request, the
// gateway check and introspection make (signature, typ, crit, exp/nbf, iss,
// aud, revocation, the credential). Seeds hold tokens the fixed key signed,
// so mutations of their claims reach the claim checks.
#include "authority/jwt.h"

#include "common/encoding.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/world.h"

using namespace authd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // VerifyBearer changes nothing a later input could see but the token
  // cache, which is keyed by the whole token: one world serves every input.
  static fuzz::World* world = fuzz::World::Create().release();
  static fuzz::SoftwareKeyOps* keys = new fuzz::SoftwareKeyOps();
  static PublicKey* rsa = new PublicKey(
      keys->GenerateSigningKey("fuzz-rsa", Algorithm::kRS256).value());
  std::string token = world->Expand(std::string(fuzz::AsText(data, size)));
  StatusOr<authority::VerifiedJwt> jwt =
      authority::VerifyJwt(token, keys->Public(hsm::KeyUse::kToken));
  if (jwt.ok()) {
    FUZZ_CHECK(jwt->header.is_object() && jwt->claims.is_object());
  }
  FUZZ_CHECK(!authority::VerifyJwt(token, *rsa).ok());
  StatusOr<authority::Principal> who = world->tokens().VerifyBearer(token);
  if (who.ok()) {
    // Only what the fixed key signed can verify.
    FUZZ_CHECK(jwt.ok());
    FUZZ_CHECK(!who->client_id.empty());
  }
  // The same token presented twice (now from the cache) gets the same answer.
  StatusOr<authority::Principal> again = world->tokens().VerifyBearer(token);
  FUZZ_CHECK(again.ok() == who.ok());
  return 0;
}
