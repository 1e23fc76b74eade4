// ferry::Result<T>: a value or a non-OK Status.
//
//   ferry::Result<ferry::Channel> channel = ferry::Connect("shm://calc");
//   if (!channel.ok()) { std::cerr << channel.status() << '\n'; return 1; }
//   Use(*channel);
#pragma once

#include <cassert>
#include <utility>
#include <variant>

#include "ferry/status.h"

namespace ferry {

template <class T>
class [[nodiscard]] Result {
 public:
  // A Result never holds OK without a value: constructing one from an OK status is a bug and
  // becomes INTERNAL.
  Result(Status status) : state_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(state_).ok()) {
      state_ = Status::Internal("Result constructed from an OK status without a value");
    }
  }
  // By reference, not by value: a T aligned to a cache line passed by value draws GCC's note
  // about the ABI of 64-byte aligned parameters.
  Result(const T& value) : state_(value) {}        // NOLINT(google-explicit-constructor)
  Result(T&& value) : state_(std::move(value)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  // OK when the Result holds a value.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(state_); }

  // Preconditions for the accessors below: ok().
  T& value() & { return Checked(); }
  const T& value() const& { return const_cast<Result*>(this)->Checked(); }
  T&& value() && { return std::move(Checked()); }
  T& operator*() & { return Checked(); }
  const T& operator*() const& { return const_cast<Result*>(this)->Checked(); }
  T&& operator*() && { return std::move(Checked()); }
  T* operator->() { return &Checked(); }
  const T* operator->() const { return &const_cast<Result*>(this)->Checked(); }

 private:
  T& Checked() {
    assert(ok() && "ferry::Result accessed without a value; check ok() first");
    return std::get<T>(state_);
  }

  std::variant<T, Status> state_;
};

}  // namespace ferry
