// Byte encodings used on the wire: base64url without padding (JOSE, RFC 7515
// §2), standard base64 (C2SP notes, exports), hex, and
// application/x-www-form-urlencoded (RFC 6749 Appendix B).
#ifndef AUTHD_COMMON_ENCODING_H_
#define AUTHD_COMMON_ENCODING_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/secure_string.h"
#include "common/status.h"

namespace authd {

std::string Base64UrlEncode(std::string_view bytes);
std::optional<std::string> Base64UrlDecode(std::string_view text);
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);
std::string HexEncode(std::string_view bytes);

// Percent-decoding with '+' as space. Returns nullopt on a malformed escape.
std::optional<SecureString> FormUrlDecode(std::string_view text);
// Percent-encodes everything but unreserved characters (RFC 3986 §2.3).
std::string UrlEncode(std::string_view text);

// Parses a form body into name → value. Returns nullopt when an escape is
// malformed or a name repeats (RFC 6749 §3.2: parameters must not be
// included more than once).
std::optional<std::map<std::string, SecureString>> ParseForm(
    std::string_view body);

// Checks that `text` is valid UTF-8 of `min_chars` to `max_chars` code
// points with no control characters or invisible format characters (bidi
// overrides, zero-width, line separators). Messages name `field`.
Status ValidatePrintable(std::string_view field, std::string_view text,
                         size_t min_chars, size_t max_chars);

}  // namespace authd

#endif  // AUTHD_COMMON_ENCODING_H_
