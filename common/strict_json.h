// ParseStrictJson: the one parser for JSON that comes from outside the
// process (request bodies, exported logs, kept checkpoints, tokens).
//
// RFC 8259 §4 leaves a repeated member name to the parser, and nlohmann
// keeps the last one: {"cidr":"10.0.0.0/8","cidr":"0.0.0.0/0"} would be
// read as 0.0.0.0/0 while a reviewer or a log reader sees 10.0.0.0/8. I-JSON
// (RFC 7493 §2.3) forbids duplicates; so do we, at any depth. Thread-safe.
#ifndef AUTHD_COMMON_STRICT_JSON_H_
#define AUTHD_COMMON_STRICT_JSON_H_

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/status.h"

namespace authd {

// InvalidArgument "duplicate key 'NAME'" when an object repeats a key. Text
// that is not JSON at all is not an error here: the result is then a
// discarded value (is_discarded(), not an object), as with nlohmann's
// parse(text, nullptr, false), so callers keep their own message for it.
StatusOr<nlohmann::json> ParseStrictJson(std::string_view text);

}  // namespace authd

#endif  // AUTHD_COMMON_STRICT_JSON_H_
