// ferry::CallContext: what a handler knows about the call it serves.
#pragma once

#include <chrono>
#include <functional>
#include <string_view>

namespace ferry {

// The runtime passes one to every handler. Abstract so that a handler's unit test can pass
// its own.
class CallContext {
 public:
  using Clock = std::chrono::steady_clock;

  virtual ~CallContext() = default;

  // "package.Service.Method".
  virtual std::string_view method() const = 0;
  // The client's deadline; Clock::time_point::max() when it set none.
  virtual Clock::time_point Deadline() const = 0;
  // True once the call is over for the client: it cancelled, its deadline passed, or it went
  // away. A long handler polls this, or waits for it below, and stops early: whatever it
  // returns afterwards reaches nobody. Cheap: an atomic load and, with a deadline, a clock
  // read.
  virtual bool Cancelled() const = 0;
  // Blocks until Cancelled() or until `until`, whichever comes first; returns Cancelled().
  virtual bool WaitForCancel(Clock::time_point until) const = 0;
  // Runs `callback` once when the client cancels the call, gives up at its deadline, or goes
  // away (or the server shuts down), on a runtime thread; at once on this thread if that has
  // already happened. Not after the call has ended. Keep it short: the connection's reader
  // runs it.
  virtual void OnCancel(std::function<void()> callback) = 0;

 protected:
  CallContext() = default;
  CallContext(const CallContext&) = default;
  CallContext& operator=(const CallContext&) = default;
};

}  // namespace ferry
