// The tests' one clock: time that moves only when a test says so. Starts at
// 2026-01-01T00:00:00Z unless told otherwise. Thread-safe.
#ifndef AUTHD_TESTS_TESTING_FAKE_CLOCK_H_
#define AUTHD_TESTS_TESTING_FAKE_CLOCK_H_

#include <atomic>
#include <cstdint>

#include "common/clock.h"

namespace authd::testing {

// 2026-01-01T00:00:00Z.
inline constexpr int64_t kStartTime = 1767225600;
inline constexpr int64_t kDay = 86400;

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t now = kStartTime) : now_(now) {}
  int64_t NowSeconds() const override { return now_.load(); }
  void Advance(int64_t seconds) { now_ += seconds; }
  void Set(int64_t now) { now_ = now; }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace authd::testing

#endif  // AUTHD_TESTS_TESTING_FAKE_CLOCK_H_
