// The worker pool and epoll set polled connections are served on.
#include "call/server_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "os/log.h"

namespace ferry::internal {
namespace {

// epoll data of the loop's own eventfd; watches get tokens from 1.
constexpr uint64_t kWakeToken = 0;
// How long a thread beyond the base count waits for work before it leaves.
constexpr int kExtraWorkerIdleMs = 5000;

}  // namespace

Result<std::shared_ptr<ServerLoop>> ServerLoop::Create(unsigned workers, unsigned max_workers,
                                                       std::function<void()> on_worker_start) {
  Fd epoll(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) {
    return Status::ResourceExhausted(std::string("epoll_create1: ") + std::strerror(errno));
  }
  Fd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) {
    return Status::ResourceExhausted(std::string("eventfd: ") + std::strerror(errno));
  }
  epoll_event event{};
  event.events = EPOLLIN | EPOLLET;
  event.data.u64 = kWakeToken;
  if (epoll_ctl(epoll.get(), EPOLL_CTL_ADD, wake.get(), &event) != 0) {
    return Status::ResourceExhausted(std::string("epoll_ctl: ") + std::strerror(errno));
  }
  workers = std::max(1U, workers);
  std::shared_ptr<ServerLoop> loop(new ServerLoop(std::move(epoll), std::move(wake), workers,
                                                  std::max(workers, max_workers),
                                                  std::move(on_worker_start)));
  std::lock_guard lock(loop->mutex_);
  try {
    loop->timer_ = std::thread([raw = loop.get()] { raw->RunTimer(); });
  } catch (const std::system_error& e) {
    return Status::ResourceExhausted(std::string("cannot start the server's timer thread: ") +
                                     e.what());
  }
  for (unsigned i = 0; i < workers; ++i) {
    if (!loop->SpawnLocked()) {
      if (i == 0) {
        loop->stopping_ = true;  // the timer thread ends (Stop() joins it)
        loop->timer_cv_.notify_all();
        return Status::ResourceExhausted("cannot start the server's worker threads");
      }
      break;  // fewer workers than asked: slower, still correct
    }
  }
  return loop;
}

ServerLoop::ServerLoop(Fd epoll, Fd wake, unsigned workers, unsigned max_workers,
                       std::function<void()> on_worker_start)
    : epoll_(std::move(epoll)),
      wake_(std::move(wake)),
      base_workers_(workers),
      max_workers_(max_workers),
      on_worker_start_(std::move(on_worker_start)) {}

ServerLoop::~ServerLoop() { Stop(); }

bool ServerLoop::SpawnLocked() {
  // Threads that left are joined here (they are past their last touch of the loop).
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (it->done) {
      it->thread.join();
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
  const bool extra = workers_.size() >= base_workers_;
  try {
    Worker& worker = workers_.emplace_back();
    alive_.fetch_add(1, std::memory_order_relaxed);
    worker.thread = std::thread([this, &worker, extra] { Run(worker, extra); });
    return true;
  } catch (const std::system_error& e) {
    workers_.pop_back();
    alive_.fetch_sub(1, std::memory_order_relaxed);
    LogLine(std::string("cannot start a server worker: ") + e.what());
    return false;
  }
}

void ServerLoop::RingWake() { RingEventFd(wake_.get()); }

void ServerLoop::Run(Worker& self, bool extra) {
  if (on_worker_start_) on_worker_start_();
  for (;;) {
    epoll_event event{};
    idle_.fetch_add(1, std::memory_order_relaxed);
    const int n = epoll_wait(epoll_.get(), &event, 1, extra ? kExtraWorkerIdleMs : -1);
    idle_.fetch_sub(1, std::memory_order_relaxed);
    if (n < 0) {
      if (errno == EINTR) continue;
      LogLine(std::string("server worker: epoll_wait: ") + std::strerror(errno));
      break;
    }
    Watched target;
    {
      std::lock_guard lock(mutex_);
      if (n == 0) {  // an extra thread without work
        if (stopping_ || alive_.load(std::memory_order_relaxed) > static_cast<int>(base_workers_)) {
          break;
        }
        continue;
      }
      if (event.data.u64 == kWakeToken) {
        DrainEventFd(wake_.get());
        if (stopping_) {
          RingWake();  // passed on to the next worker
          break;
        }
        if (posted_.empty()) continue;
        target = std::move(posted_.front());
        posted_.pop_front();
        if (!posted_.empty()) RingWake();  // someone else takes the next
      } else {
        auto found = watched_.find(event.data.u64);
        if (found == watched_.end()) continue;  // unwatched meanwhile
        target = found->second;
      }
    }
    if (std::shared_ptr<Source> source = target.source.lock()) source->OnReady(target.tag);
  }
  std::lock_guard lock(mutex_);
  alive_.fetch_sub(1, std::memory_order_relaxed);
  self.done = true;  // the last touch: the thread is joined after it
}

Result<uint64_t> ServerLoop::Watch(int fd, uint32_t tag, std::weak_ptr<Source> source) {
  std::lock_guard lock(mutex_);
  if (stopping_) return Status::Unavailable("the server is shutting down");
  const uint64_t token = next_token_++;
  watched_.emplace(token, Watched{std::move(source), tag});
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
  event.data.u64 = token;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
    const int error = errno;
    watched_.erase(token);
    return Status::ResourceExhausted(std::string("epoll_ctl: ") + std::strerror(error));
  }
  return token;
}

void ServerLoop::Unwatch(int fd, uint64_t token) {
  std::lock_guard lock(mutex_);
  (void)epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  watched_.erase(token);
}

bool ServerLoop::Post(std::weak_ptr<Source> source, uint32_t tag) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    posted_.push_back(Watched{std::move(source), tag});
  }
  RingWake();
  return true;
}

void ServerLoop::PostAt(std::weak_ptr<Source> source, uint32_t tag,
                        std::chrono::steady_clock::time_point when) {
  std::lock_guard lock(mutex_);
  if (stopping_) return;
  const bool earliest = timed_.empty() || when < timed_.begin()->first;
  timed_.emplace(when, Watched{std::move(source), tag});
  if (earliest) timer_cv_.notify_one();
}

void ServerLoop::RunTimer() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (timed_.empty()) {
      timer_cv_.wait(lock);
      continue;
    }
    const auto due = timed_.begin()->first;
    if (std::chrono::steady_clock::now() < due) {
      timer_cv_.wait_until(lock, due);
      continue;
    }
    Watched target = std::move(timed_.begin()->second);
    timed_.erase(timed_.begin());
    posted_.push_back(std::move(target));
    RingWake();
  }
}

void ServerLoop::EnterHandler() {
  const int busy = in_handlers_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (busy < alive_.load(std::memory_order_relaxed)) return;
  // The last free worker is about to block: one more thread keeps the rest served.
  std::lock_guard lock(mutex_);
  if (stopping_ || in_handlers_.load(std::memory_order_relaxed) < alive_.load() ||
      alive_.load() >= static_cast<int>(max_workers_)) {
    return;
  }
  (void)SpawnLocked();
}

void ServerLoop::LeaveHandler() { in_handlers_.fetch_sub(1, std::memory_order_relaxed); }

void ServerLoop::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    posted_.clear();
    timed_.clear();
  }
  timer_cv_.notify_all();
  if (timer_.joinable()) timer_.join();
  RingWake();
  // Workers that are still running use the list's nodes until they leave: join before taking
  // the list apart.
  for (;;) {
    std::thread* next = nullptr;
    {
      std::lock_guard lock(mutex_);
      for (Worker& worker : workers_) {
        if (worker.thread.joinable()) {
          next = &worker.thread;
          break;
        }
      }
    }
    if (next == nullptr) break;
    next->join();
  }
  std::lock_guard lock(mutex_);
  workers_.clear();
}

size_t ServerLoop::threads() const {
  return static_cast<size_t>(std::max(0, alive_.load(std::memory_order_relaxed)));
}

}  // namespace ferry::internal
