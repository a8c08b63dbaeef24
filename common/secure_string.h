// Buffers for secrets (PINs, client secrets, decoded Basic headers, form
// bodies): memory is wiped with OPENSSL_cleanse before it is returned to the
// allocator, including the copies std::string makes when it grows.
#ifndef AUTHD_COMMON_SECURE_STRING_H_
#define AUTHD_COMMON_SECURE_STRING_H_

#include <openssl/crypto.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace authd {

template <typename T>
struct CleansingAllocator {
  using value_type = T;
  CleansingAllocator() = default;
  template <typename U>
  CleansingAllocator(const CleansingAllocator<U>&) noexcept {}  // NOLINT
  T* allocate(std::size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept {
    OPENSSL_cleanse(p, n * sizeof(T));
    std::allocator<T>().deallocate(p, n);
  }
  template <typename U>
  bool operator==(const CleansingAllocator<U>&) const noexcept {
    return true;
  }
};

// Small-string optimisation keeps short values inside the object itself, where
// the allocator never sees them; the destructor wipes that part too.
class SecureString : public std::basic_string<char, std::char_traits<char>,
                                              CleansingAllocator<char>> {
 public:
  using Base =
      std::basic_string<char, std::char_traits<char>, CleansingAllocator<char>>;
  using Base::Base;
  SecureString() = default;
  explicit SecureString(std::string_view s) : Base(s.data(), s.size()) {}
  SecureString(const SecureString&) = default;
  SecureString(SecureString&&) = default;
  SecureString& operator=(const SecureString&) = default;
  SecureString& operator=(SecureString&&) = default;
  ~SecureString() { OPENSSL_cleanse(data(), capacity()); }
  std::string_view view() const { return {data(), size()}; }
};

}  // namespace authd

#endif  // AUTHD_COMMON_SECURE_STRING_H_
