// TimedMutex: a mutex whose lock can be waited for with a deadline, for the
// locks that answer Busy instead of waiting forever (the audit log's and the
// storage's). It meets the TimedLockable requirements, so std::unique_lock
// and std::lock_guard take it like std::timed_mutex.
//
// Why not std::timed_mutex: with GCC 12, try_lock_for/try_lock_until take
// the lock through pthread_mutex_clocklock, which ThreadSanitizer does not
// see, so every later unlock is reported as "unlock of an unlocked mutex"
// and the TSan build cannot check anything these locks guard. This one is a
// flag under a std::mutex and a condition variable, which TSan understands.
//
// Thread-safe. Not recursive; unlock() only by the owner.
#ifndef AUTHD_COMMON_TIMED_MUTEX_H_
#define AUTHD_COMMON_TIMED_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace authd {

class TimedMutex {
 public:
  void lock() {
    std::unique_lock<std::mutex> l(mu_);
    free_.wait(l, [this] { return !locked_; });
    locked_ = true;
  }
  bool try_lock() {
    std::lock_guard<std::mutex> l(mu_);
    if (locked_) return false;
    locked_ = true;
    return true;
  }
  template <typename Rep, typename Period>
  bool try_lock_for(const std::chrono::duration<Rep, Period>& wait) {
    return try_lock_until(std::chrono::steady_clock::now() + wait);
  }
  template <typename Clock, typename Duration>
  bool try_lock_until(const std::chrono::time_point<Clock, Duration>& until) {
    std::unique_lock<std::mutex> l(mu_);
    if (!free_.wait_until(l, until, [this] { return !locked_; })) return false;
    locked_ = true;
    return true;
  }
  void unlock() {
    {
      std::lock_guard<std::mutex> l(mu_);
      locked_ = false;
    }
    free_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable free_;
  bool locked_ = false;  // GUARDED_BY(mu_)
};

}  // namespace authd

#endif  // AUTHD_COMMON_TIMED_MUTEX_H_
