// Time as an interface so tests never sleep (Envoy's TimeSource), plus the
// RFC 3339 conversions used by the API. All times are UTC seconds since the
// Unix epoch. Implementations must be thread-safe.
#ifndef AUTHD_COMMON_CLOCK_H_
#define AUTHD_COMMON_CLOCK_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace authd {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowSeconds() const = 0;
  virtual int64_t NowMicros() const { return NowSeconds() * 1000000; }
};

class SystemClock final : public Clock {
 public:
  int64_t NowSeconds() const override;
  int64_t NowMicros() const override;
  static const SystemClock& Get();
};

// "2026-11-26T05:00:00Z".
std::string FormatRfc3339(int64_t unix_seconds);
// Accepts RFC 3339 date-time with 'Z' or a numeric offset and optional
// fractional seconds (truncated). Returns nullopt for anything else.
std::optional<int64_t> ParseRfc3339(std::string_view text);

}  // namespace authd

#endif  // AUTHD_COMMON_CLOCK_H_
