// The small text formats of request fields: RFC 3339 times (expires_at),
// ValidatePrintable (credential names, reasons), scope lists, hex, URL
// encoding, LogSafe (request values in log lines). Properties: a parsed time
// formats back to a time that parses to the same instant; scope lists split and
// join to a fixed point.
#include "authority/token_service.h"
#include "common/clock.h"
#include "common/encoding.h"
#include "common/log.h"
#include "fuzz/fuzz_util.h"

using namespace authd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::AsText(data, size);
  std::optional<int64_t> t = ParseRfc3339(text);
  if (t && *t >= -62135596800 && *t <= 253402300799) {  // years 1 to 9999
    std::optional<int64_t> again = ParseRfc3339(FormatRfc3339(*t));
    FUZZ_CHECK(again && *again == *t);
  }
  Status st = ValidatePrintable("name", text, 1, 200);
  if (st.ok()) FUZZ_CHECK(size >= 1 && size <= 800);
  std::vector<std::string> scopes = authority::SplitScopes(text);
  std::string joined = authority::JoinScopes(scopes);
  FUZZ_CHECK(authority::SplitScopes(joined) == scopes);
  FUZZ_CHECK(HexEncode(text).size() == 2 * size);
  std::optional<SecureString> url = FormUrlDecode(UrlEncode(text));
  FUZZ_CHECK(url && url->view() == text);
  // A logged value cannot split the line or forge a key=value field.
  for (char c : LogSafe(text)) {
    FUZZ_CHECK(c > ' ' && c < 0x7f && c != '=' && c != '"');
  }
  return 0;
}
