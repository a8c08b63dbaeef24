#include "api/jwt.h"

#include "common/encoding.h"

namespace authd::api {

StatusOr<std::string> SignJwt(const hsm::KeyOps& keys,
                              const nlohmann::json& header,
                              const nlohmann::json& claims) {
  std::string input =
      Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(claims.dump());
  ASSIGN_OR_RETURN(std::string sig, keys.SignEs256(hsm::KeyUse::kToken, input));
  return input + "." + Base64UrlEncode(sig);
}

StatusOr<VerifiedJwt> VerifyJwt(std::string_view token,
                                const hsm::PublicKey& key) {
  auto bad = [](std::string_view why) {
    return Status::Unauthenticated("access token " + std::string(why));
  };
  size_t dot1 = token.find('.');
  size_t dot2 =
      dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos ||
      token.find('.', dot2 + 1) != std::string_view::npos) {
    return bad("is not a compact JWS");
  }
  auto header_raw = Base64UrlDecode(token.substr(0, dot1));
  auto claims_raw = Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto sig = Base64UrlDecode(token.substr(dot2 + 1));
  if (!header_raw || !claims_raw || !sig) return bad("is not base64url");
  VerifiedJwt out;
  out.header = nlohmann::json::parse(*header_raw, nullptr, false);
  out.claims = nlohmann::json::parse(*claims_raw, nullptr, false);
  if (!out.header.is_object() || !out.claims.is_object()) {
    return bad("is not JSON");
  }
  auto header_string = [&](const char* name) {
    const auto it = out.header.find(name);
    return it != out.header.end() && it->is_string() ? it->get<std::string>()
                                                     : std::string();
  };
  if (header_string("alg") != "ES256") return bad("has the wrong alg");
  if (header_string("kid") != key.kid()) {
    return bad("was not signed by a current key");
  }
  if (!key.VerifyEs256(token.substr(0, dot2), *sig)) {
    return bad("has an invalid signature");
  }
  return out;
}

}  // namespace authd::api
