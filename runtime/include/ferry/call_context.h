// ferry::CallContext: what a handler knows about the call it serves.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace ferry {

// Who is at the other end of a connection, as the kernel says: on shm://, unix:// and mq://
// (and tcp:// moved to shared memory) the process that connected (SO_PEERCRED, taken when it
// connected); on tcp:// its address. Fields the transport cannot know stay -1 or empty.
struct Peer {
  int64_t pid = -1;
  int64_t uid = -1;
  int64_t gid = -1;
  std::string address;  // tcp://: "203.0.113.7:40112" ("[::1]:40112" for IPv6)
};

// The runtime passes one to every handler. Abstract so that a handler's unit test can pass
// its own.
class CallContext {
 public:
  using Clock = std::chrono::steady_clock;

  virtual ~CallContext() = default;

  // "package.Service.Method".
  virtual std::string_view method() const = 0;
  // Who called (see Peer). The base answers "unknown", for contexts made by hand in tests.
  virtual const Peer& peer() const {
    static const Peer unknown;
    return unknown;
  }
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
