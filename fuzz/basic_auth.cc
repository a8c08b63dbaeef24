// The token endpoint's "Authorization: Basic" header (RFC 7617 with
// RFC 6749 §2.3.1's form-encoding of id and secret), and base64 decoding:
// what parses is written back and parses to the same credentials.
#include "api/http.h"
#include "common/encoding.h"
#include "fuzz/fuzz_util.h"

using namespace authd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::AsText(data, size);
  std::optional<std::string> bytes = Base64Decode(text);
  if (bytes) FUZZ_CHECK(Base64Encode(*bytes) == text);
  std::optional<std::string> url_bytes = Base64UrlDecode(text);
  if (url_bytes)
    FUZZ_CHECK(Base64UrlDecode(Base64UrlEncode(*url_bytes)) == url_bytes);

  SecureString id("unchanged"), secret("unchanged");
  if (!api::ParseBasicCredentials(text, &id, &secret)) {
    FUZZ_CHECK(id.view() == "unchanged" && secret.view() == "unchanged");
    return 0;
  }
  std::string header = "Basic " + Base64Encode(UrlEncode(id.view()) + ":" +
                                               UrlEncode(secret.view()));
  SecureString id2, secret2;
  FUZZ_CHECK(api::ParseBasicCredentials(header, &id2, &secret2));
  FUZZ_CHECK(id2 == id && secret2 == secret);
  // As the token handler sees it, from a whole request.
  api::Request req;
  req.headers["authorization"] = std::string(text);
  (void)req.BearerToken();
  return 0;
}
