// Line-wise editing of exports in the audit tests.
#ifndef AUTHD_TESTS_TESTING_LINES_H_
#define AUTHD_TESTS_TESTING_LINES_H_

#include <string>
#include <vector>

namespace authd::testing {

// The '\n'-terminated lines of `text`, without their '\n'.
inline std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  for (size_t p = 0, e; (e = text.find('\n', p)) != std::string::npos;
       p = e + 1) {
    lines.push_back(text.substr(p, e - p));
  }
  return lines;
}

inline std::string JoinLines(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

}  // namespace authd::testing

#endif  // AUTHD_TESTS_TESTING_LINES_H_
