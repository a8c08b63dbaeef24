// Small readers of api::Response for the handler tests.
#ifndef AUTHD_TESTS_TESTING_HTTP_HELPERS_H_
#define AUTHD_TESTS_TESTING_HTTP_HELPERS_H_

#include <cctype>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api/http.h"

namespace authd::testing {

// The value of a response header, by case-insensitive name.
inline std::optional<std::string> HeaderOf(const api::Response& r,
                                           std::string_view name) {
  auto same = [&](const std::string& k) {
    if (k.size() != name.size()) return false;
    for (size_t i = 0; i < k.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(k[i])) !=
          std::tolower(static_cast<unsigned char>(name[i]))) {
        return false;
      }
    }
    return true;
  };
  for (const auto& [k, v] : r.headers) {
    if (same(k)) return v;
  }
  return std::nullopt;
}

// The JSON body; discarded (is_discarded()) when it is not JSON.
inline nlohmann::json Body(const api::Response& r) {
  return nlohmann::json::parse(r.body, nullptr, false);
}

}  // namespace authd::testing

#endif  // AUTHD_TESTS_TESTING_HTTP_HELPERS_H_
