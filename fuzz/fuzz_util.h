// Helpers shared by the fuzz targets: an invariant check that turns a broken
// property into a crash libFuzzer reports, and a reader that cuts structured
// values out of the input bytes. Header only.
#ifndef AUTHD_FUZZ_FUZZ_UTIL_H_
#define AUTHD_FUZZ_FUZZ_UTIL_H_

#include <stdio.h>
#include <stdlib.h>

#include <cstdint>
#include <string>
#include <string_view>

// A property every input must keep; its failure is a finding like a crash.
#define FUZZ_CHECK(cond)                                                    \
  do {                                                                      \
    if (!(cond)) {                                                          \
      fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, \
              #cond);                                                       \
      abort();                                                              \
    }                                                                       \
  } while (0)

namespace authd::fuzz {

// Consumes the input from the front; past the end it yields zeros and
// empty strings.
class Bytes {
 public:
  Bytes(const uint8_t* data, size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  uint8_t Byte() {
    if (rest_.empty()) return 0;
    uint8_t b = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  uint64_t U64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | Byte();
    return v;
  }
  // Up to the next NUL (consumed) or the end.
  std::string_view Field() {
    size_t nul = rest_.find('\0');
    std::string_view f = rest_.substr(0, nul);
    rest_.remove_prefix(nul == std::string_view::npos ? rest_.size() : nul + 1);
    return f;
  }
  std::string_view Take(size_t n) {
    std::string_view f = rest_.substr(0, n);
    rest_.remove_prefix(f.size());
    return f;
  }
  std::string_view Rest() {
    std::string_view r = rest_;
    rest_ = {};
    return r;
  }
  bool empty() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace authd::fuzz

#endif  // AUTHD_FUZZ_FUZZ_UTIL_H_
