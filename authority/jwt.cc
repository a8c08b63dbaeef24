#include "authority/jwt.h"

#include "common/encoding.h"
#include "common/strict_json.h"

namespace authd::authority {

std::string JwsSigningInput(const nlohmann::json& header,
                            const nlohmann::json& claims) {
  return Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(claims.dump());
}

void AppendJsonString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\b':
        *out += "\\b";
        break;
      case '\f':
        *out += "\\f";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (c < 0x20) {
          *out += "\\u00";
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

StatusOr<VerifiedJwt> VerifyJwt(
    std::string_view token,
    const std::function<const PublicKey*(const std::string& kid)>& find) {
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
  // RFC 7515 §5.2 step 4, RFC 7519 §7.2: duplicate member names rejected.
  StatusOr<nlohmann::json> header = ParseStrictJson(*header_raw);
  StatusOr<nlohmann::json> claims = ParseStrictJson(*claims_raw);
  if (!header.ok() || !claims.ok()) return bad("repeats a JSON key");
  out.header = std::move(header).value();
  out.claims = std::move(claims).value();
  if (!out.header.is_object() || !out.claims.is_object()) {
    return bad("is not JSON");
  }
  auto header_string = [&](const char* name) {
    const auto it = out.header.find(name);
    return it != out.header.end() && it->is_string() ? it->get<std::string>()
                                                     : std::string();
  };
  const PublicKey* key = find(header_string("kid"));
  if (key == nullptr) return bad("was not signed by a current key");
  // RFC 8725 §3.1: the algorithm is the key's, never the token's choice.
  if (header_string("alg") != AlgorithmName(key->algorithm())) {
    return bad("has the wrong alg");
  }
  if (!key->Verify(token.substr(0, dot2), *sig)) {
    return bad("has an invalid signature");
  }
  return out;
}

StatusOr<VerifiedJwt> VerifyJwt(std::string_view token, const PublicKey& key) {
  return VerifyJwt(token, [&](const std::string& kid) {
    return kid == key.kid() ? &key : nullptr;
  });
}

}  // namespace authd::authority
