// Status and StatusOr: the one error type used across authd.
//
// Request-path failures (bad client secret, HSM unavailable, unknown id) are
// expected outcomes that must become a specific HTTP status, so they travel as
// values rather than exceptions. Each foreign error space (CK_RV, SQLite codes)
// is mapped to a Status in exactly one place. Thread-safe as any value type.
#ifndef AUTHD_COMMON_STATUS_H_
#define AUTHD_COMMON_STATUS_H_

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace authd {

enum class StatusCode {
  kOk,
  kInvalidArgument,     // caller's input is wrong: 400
  kNotFound,            // 404
  kAlreadyExists,       // 409
  kUnauthenticated,     // 401
  kPermissionDenied,    // 403
  kResourceExhausted,   // 429 / 413
  kFailedPrecondition,  // state forbids it (e.g. rolled-back database)
  kAborted,             // the state conflicts until an operator acts: 409
  kUnavailable,         // HSM or storage down, retry later: 503
  // Every unit of a shared resource (HSM sessions, the database) stayed in
  // use for the bounded wait: back-pressure, not a fault. 503 with
  // Retry-After, like kUnavailable, but never marks anything unready.
  kBusy,
  kInternal,  // a bug or an unexpected foreign error
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) {
    return {StatusCode::kNotFound, std::move(m)};
  }
  static Status AlreadyExists(std::string m) {
    return {StatusCode::kAlreadyExists, std::move(m)};
  }
  static Status Unauthenticated(std::string m) {
    return {StatusCode::kUnauthenticated, std::move(m)};
  }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status ResourceExhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status Aborted(std::string m) {
    return {StatusCode::kAborted, std::move(m)};
  }
  static Status Unavailable(std::string m) {
    return {StatusCode::kUnavailable, std::move(m)};
  }
  static Status Busy(std::string m) {
    return {StatusCode::kBusy, std::move(m)};
  }
  static Status Internal(std::string m) {
    return {StatusCode::kInternal, std::move(m)};
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "context: message".
  Status WithContext(std::string_view context) const {
    if (ok()) return *this;
    return {code_, std::string(context) + ": " + message_};
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Holds either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT
    if (status_.ok()) status_ = Status::Internal("StatusOr built from OK");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // REQUIRES: ok(). Aborts with the status message otherwise.
  T& value() & { return (CheckOk(), *value_); }
  const T& value() const& { return (CheckOk(), *value_); }
  // By value, so `for (auto& x : F().value())` does not dangle.
  T value() && { return (CheckOk(), std::move(*value_)); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  void CheckOk() const {
    if (!value_) {
      std::fprintf(stderr, "StatusOr::value() on error: %s\n",
                   status_.message().c_str());
      std::abort();
    }
  }

  std::optional<T> value_;
  Status status_;
};

}  // namespace authd

#define AUTHD_CONCAT_INNER(a, b) a##b
#define AUTHD_CONCAT(a, b) AUTHD_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)     \
  do {                            \
    ::authd::Status _st = (expr); \
    if (!_st.ok()) return _st;    \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(AUTHD_CONCAT(_status_or_, __LINE__), lhs, expr)

#endif  // AUTHD_COMMON_STATUS_H_
