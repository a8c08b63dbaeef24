#include "common/log.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>

namespace authd {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
constexpr const char* kNames[] = {"debug", "info", "notice", "warn", "error"};

}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool LogEnabled(LogLevel level) {
  int threshold = g_level.load(std::memory_order_relaxed);
  // Lifecycle events show at every threshold below error.
  if (level == LogLevel::kNotice &&
      threshold <= static_cast<int>(LogLevel::kWarn)) {
    return true;
  }
  return static_cast<int>(level) >= threshold;
}

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  for (int i = 0; i < 5; ++i) {
    if (name == kNames[i]) return static_cast<LogLevel>(i);
  }
  return std::nullopt;
}

namespace {

// `value` with every byte `keep` refuses written as \xNN.
template <typename Keep>
std::string Escape(std::string_view value, Keep keep) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    if (keep(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

}  // namespace

std::string LogSafe(std::string_view value) {
  return Escape(value, [](unsigned char c) {
    return c > 0x20 && c < 0x7f && c != '"' && c != '=' && c != '\\';
  });
}

std::string LogText(std::string_view text) {
  return Escape(text, [](unsigned char c) {
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
  });
}

void Log(LogLevel level, const char* fmt, ...) {
  if (!LogEnabled(level)) return;
  char line[2048];
  int n =
      snprintf(line, sizeof line, "level=%s ", kNames[static_cast<int>(level)]);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof line - static_cast<size_t>(n) - 1, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s\n", line);
}

}  // namespace authd
