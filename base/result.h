#pragma once
// Result<T>: a value or an Error, the return type at every module boundary.
// Handlers and providers never throw; library error codes become ErrorCode values at the
// edge that calls the library, keeping the library's own text in Error::message.

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace keystep {

enum class ErrorCode {
  kInvalidArgument,   // malformed or unacceptable input from the caller
  kNotFound,          // the thing named does not exist (or is not visible to the caller)
  kAlreadyExists,     // a uniqueness constraint would be violated
  kUnauthenticated,   // credentials missing or wrong
  kDenied,            // authenticated but not allowed / a wrong code
  kConflict,          // the state forbids the change (precondition failed)
  kReplayed,          // a single-use thing was used again
  kCloned,            // an authenticator looks copied (its signature counter went backwards)
  kOutOfSync,         // a counter-based token ran past the look-ahead window: resync it
  kLocked,            // too many failures; retry later
  kExpired,           // the thing was valid once but is not any more
  kUnavailable,       // a dependency (database busy, SMTP down) cannot serve now
  kInternal,          // a broken invariant or an unexpected library failure
};

// Stable lower-case name of a code, for logs and JSON ("invalid_argument", …).
std::string_view error_code_name(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;
};

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}              // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}          // NOLINT: implicit by design
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { assert(!ok_); return error_; }

 private:
  Error error_{ErrorCode::kInternal, {}};
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace keystep
