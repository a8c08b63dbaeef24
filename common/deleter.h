// Deleter<F>: a unique_ptr deleter that calls the C function F, so every C
// pointer handle gets RAII with one line:
//   using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;
#ifndef AUTHD_COMMON_DELETER_H_
#define AUTHD_COMMON_DELETER_H_

namespace authd {

template <auto F>
struct Deleter {
  template <typename T>
  void operator()(T* p) const noexcept {
    F(p);
  }
};

}  // namespace authd

#endif  // AUTHD_COMMON_DELETER_H_
