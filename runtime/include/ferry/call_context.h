// ferry::CallContext: what a handler knows about the call it serves.
#pragma once

#include <chrono>
#include <string_view>

namespace ferry {

class CallContext {
 public:
  using Clock = std::chrono::steady_clock;

  // cancelled_probe(probe_arg) answers Cancelled(); it may be null (never cancelled).
  CallContext(std::string_view method, Clock::time_point deadline,
              bool (*cancelled_probe)(const void*), const void* probe_arg)
      : method_(method), deadline_(deadline), probe_(cancelled_probe), probe_arg_(probe_arg) {}

  // "package.Service.Method".
  std::string_view method() const { return method_; }
  // The client's deadline; Clock::time_point::max() when it set none.
  Clock::time_point Deadline() const { return deadline_; }
  // True once the client has stopped waiting (its deadline passed and it gave up, or it went
  // away): a long handler may poll this and stop early. Cheap: an atomic load. The client is
  // the judge of its deadline, so this turns true when the client acts, not at Deadline().
  bool Cancelled() const { return probe_ != nullptr && probe_(probe_arg_); }

 private:
  std::string_view method_;
  Clock::time_point deadline_;
  bool (*probe_)(const void*);
  const void* probe_arg_;
};

}  // namespace ferry
