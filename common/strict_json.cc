#include "common/strict_json.h"

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace authd {

StatusOr<nlohmann::json> ParseStrictJson(std::string_view text) {
  using nlohmann::json;
  // The keys seen in each object being parsed, innermost last.
  std::vector<std::set<std::string>> open;
  std::optional<std::string> duplicate;
  json::parser_callback_t check = [&](int, json::parse_event_t event,
                                      json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        open.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!open.empty()) open.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open.empty() && parsed.is_string() &&
            !open.back().insert(parsed.get<std::string>()).second &&
            !duplicate) {
          duplicate = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  json out = json::parse(text, check, /*allow_exceptions=*/false);
  if (duplicate) {
    return Status::InvalidArgument("duplicate key '" + *duplicate + "'");
  }
  return out;
}

}  // namespace authd
