// The token endpoint's form body (application/x-www-form-urlencoded,
// RFC 6749 Appendix B): ParseForm and FormUrlDecode, and that UrlEncode is
// their inverse.
#include <map>
#include <string>

#include "common/encoding.h"
#include "fuzz/fuzz_util.h"

using namespace authd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::AsText(data, size);
  std::optional<SecureString> decoded = FormUrlDecode(text);
  if (decoded) {
    std::optional<SecureString> again =
        FormUrlDecode(UrlEncode(decoded->view()));
    FUZZ_CHECK(again && *again == *decoded);
  }
  std::optional<std::map<std::string, SecureString>> form = ParseForm(text);
  if (!form) return 0;
  // A parsed form written back canonically parses to the same fields.
  std::string body;
  for (const auto& [name, value] : *form) {
    if (!body.empty()) body += '&';
    body += UrlEncode(name) + "=" + UrlEncode(value.view());
  }
  std::optional<std::map<std::string, SecureString>> again = ParseForm(body);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->size() == form->size());
  for (const auto& [name, value] : *form) {
    auto it = again->find(name);
    FUZZ_CHECK(it != again->end() && it->second == value);
  }
  return 0;
}
