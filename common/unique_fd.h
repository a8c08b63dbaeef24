// UniqueFd: owns a file descriptor and closes it once, on destruction or
// reset. Move-only: two owners would close the same number twice, and the
// second close could hit a descriptor another thread has just opened.
#ifndef AUTHD_COMMON_UNIQUE_FD_H_
#define AUTHD_COMMON_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace authd {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership without closing.
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace authd

#endif  // AUTHD_COMMON_UNIQUE_FD_H_
