// A timerfd and an eventfd behind StandbyAlarm.
#include "os/standby_alarm.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace ferry::internal {

Result<StandbyAlarm> StandbyAlarm::Create() {
  Fd timer(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  Fd nudge(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!timer.valid() || !nudge.valid()) {
    return Status::ResourceExhausted(std::string("timerfd/eventfd: ") + std::strerror(errno));
  }
  return StandbyAlarm(std::move(timer), std::move(nudge));
}

void StandbyAlarm::Arm(std::chrono::microseconds after) {
  itimerspec spec{};
  spec.it_value.tv_sec = static_cast<time_t>(after.count() / 1000000);
  spec.it_value.tv_nsec = static_cast<long>(after.count() % 1000000 * 1000);
  timerfd_settime(timer_.get(), 0, &spec, nullptr);  // also clears a stale expiry
}

void StandbyAlarm::Disarm() {
  const itimerspec none{};
  timerfd_settime(timer_.get(), 0, &none, nullptr);
}

bool StandbyAlarm::Wait() {
  pollfd fds[2] = {{timer_.get(), POLLIN, 0}, {nudge_.get(), POLLIN, 0}};
  while (poll(fds, 2, -1) < 0 && errno == EINTR) {
  }
  if (fds[1].revents != 0) {
    DrainEventFd(nudge_.get());
    return false;
  }
  uint64_t count = 0;
  // A re-arm between poll and read leaves nothing to read: not an alarm after all.
  return read(timer_.get(), &count, sizeof(count)) == sizeof(count);
}

void StandbyAlarm::Nudge() { RingEventFd(nudge_.get()); }

}  // namespace ferry::internal
