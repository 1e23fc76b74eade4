// The alarm a standby worker sleeps on while other workers run handlers on a socket or queue
// connection: armed when a handler starts (unless already armed), it wakes the standby, which
// takes over reading the connection if a handler has outlasted its grace.
#pragma once

#include <chrono>

#include "os/unix_socket.h"
#include "ferry/result.h"

namespace ferry::internal {

class StandbyAlarm {
 public:
  // RESOURCE_EXHAUSTED when no timerfd or eventfd can be made.
  static Result<StandbyAlarm> Create();

  void Arm(std::chrono::microseconds after);
  // Cancels an armed alarm (and one that went off and was not waited for yet).
  void Disarm();
  // Blocks until the alarm goes off (true) or Nudge() is called (false); clears both.
  bool Wait();
  // Wakes a Wait() in progress, or the next one.
  void Nudge();

 private:
  StandbyAlarm(Fd timer, Fd nudge) : timer_(std::move(timer)), nudge_(std::move(nudge)) {}

  Fd timer_;
  Fd nudge_;
};

}  // namespace ferry::internal
