// MqLink: frames over a pair of Boost.Interprocess message_queues, moved by two private threads
// (a writer that also sends heartbeats, a reader that reassembles frames) so that no caller
// thread ever blocks inside Boost on a mutex a dead peer may hold; what a dead peer left
// locked is released once its process is gone (see mq_link.h).
#include "mq/mq_link.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/date_time/posix_time/posix_time_types.hpp>
#include <boost/interprocess/detail/managed_open_or_create_impl.hpp>
#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <limits>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "mq/mq_frame_assembler.h"
#include "mq/mq_wire.h"
#include "os/log.h"
#include "os/send_gate.h"
#include "os/unix_socket.h"

namespace ferry::internal {
namespace {

namespace bip = boost::interprocess;
using Clock = std::chrono::steady_clock;

// Every wait inside Boost is cut into slices this long, so the private threads notice
// Shutdown() and a dead peer without any message arriving.
constexpr auto kSlice = std::chrono::milliseconds(50);
// How long Shutdown() waits, beyond a slice, for a private thread before handing it to the
// janitor (it is stuck on a lock held by a peer that is alive but not running).
constexpr auto kStuckGrace = std::chrono::milliseconds(100);
// System calls that check the peer's socket and process run at most this often per link.
constexpr auto kProbeInterval = std::chrono::milliseconds(10);
// A peer whose process is known to be alive (its socket open, its pid not exited) is only
// presumed dead after this much silence: stopped (SIGSTOP, a debugger) or starved peers are
// not dead ones.
constexpr auto kAliveSilenceLimit = std::chrono::seconds(10);
// The reader stops taking frames off the queue (backpressure) when this many, or this many
// bytes, wait for Receive(); one frame is always admitted.
constexpr size_t kMaxQueuedFrames = 16;
constexpr size_t kMaxQueuedBytes = 8 * 1024 * 1024;

constexpr char kNamePrefix[] = "ferry-mq-";
constexpr char kShmDir[] = "/dev/shm";

using mq_wire::Header;
using mq_wire::Kind;
using mq_wire::kMinQueueMessageBytes;

Status FromBoost(const bip::interprocess_exception& e, std::string_view what) {
  std::string message = std::string(what) + ": " + e.what();
  switch (e.get_error_code()) {
    case bip::not_found_error:
      return Status::NotFound(std::move(message));
    case bip::already_exists_error:
      return Status::AlreadyExists(std::move(message));
    case bip::security_error:
      return Status::PermissionDenied(std::move(message));
    case bip::out_of_space_error:
    case bip::out_of_memory_error:
      return Status::ResourceExhausted(std::move(message));
    default:
      return Status::Unavailable(std::move(message));
  }
}

// Boost's timed_* take an absolute time on the UTC clock.
boost::posix_time::ptime SliceEnd() {
  return boost::posix_time::microsec_clock::universal_time() +
         boost::posix_time::milliseconds(kSlice.count());
}

std::string FreshNamePrefix() {
  static std::atomic<uint64_t> counter{0};
  std::random_device device;
  char suffix[16];
  std::snprintf(suffix, sizeof(suffix), "%08x", static_cast<unsigned>(device()));
  return std::string(kNamePrefix) + std::to_string(getpid()) + "-" +
         std::to_string(counter.fetch_add(1)) + "-" + suffix;
}

// Whether process `pid`, as this process sees pids, has the queue `name` mapped: only then is
// the pid a peer announced usable to watch it. A peer in another pid namespace (sharing
// /dev/shm) announces a pid that here names nobody, or somebody else.
bool MapsQueue(int64_t pid, const std::string& name) {
  if (pid <= 0 || pid > std::numeric_limits<pid_t>::max()) return false;
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  const std::string path = std::string(kShmDir) + "/" + name;
  std::string line;
  while (std::getline(maps, line)) {
    const size_t at = line.find(path);
    // The name ends the line, or is followed by " (deleted)" once unlinked.
    if (at != std::string::npos &&
        (at + path.size() == line.size() || line[at + path.size()] == ' ')) {
      return true;
    }
  }
  return false;
}

// A second mapping of a queue's header, whose mutex and conditions are, in Boost 1.74, a
// pthread_mutex_t and two pthread_cond_t (glibc's layout below). It lets the link release
// what a peer that died inside a queue operation left locked: only two processes ever map a
// connection's queues (the names go as soon as both have them), so once the peer's process
// is gone, the one thread of ours that uses a queue is its only user.
using QueueHeader = bip::ipcdetail::mq_hdr_t<bip::offset_ptr<void>>;
using QueueImpl =
    bip::ipcdetail::managed_open_or_create_impl<bip::shared_memory_object, 0, true, false>;
static_assert(sizeof(bip::interprocess_mutex) == sizeof(pthread_mutex_t));
static_assert(sizeof(bip::interprocess_condition) == sizeof(pthread_cond_t));

struct QueueSync {
  bip::mapped_region region;
  pthread_mutex_t* mutex = nullptr;
  pthread_cond_t* conditions[2] = {nullptr, nullptr};
};

// Null when the layout is not the one expected (then nothing is ever released).
std::unique_ptr<QueueSync> MapQueueSync(const std::string& name,
                                        const bip::message_queue& queue) {
  try {
    bip::shared_memory_object shm(bip::open_only, name.c_str(), bip::read_write);
    auto sync = std::make_unique<QueueSync>();
    sync->region = bip::mapped_region(shm, bip::read_write, 0,
                                      QueueImpl::ManagedOpenOrCreateUserOffset +
                                          sizeof(QueueHeader));
    auto* header = reinterpret_cast<QueueHeader*>(static_cast<char*>(sync->region.get_address()) +
                                                  QueueImpl::ManagedOpenOrCreateUserOffset);
    auto* mutex = reinterpret_cast<pthread_mutex_t*>(&header->m_mutex);
    // A normal (not robust, not recursive) mutex: glibc's unlock of it is an exchange to 0.
    if (header->m_max_num_msg != queue.get_max_msg() ||
        header->m_max_msg_size != queue.get_max_msg_size() ||
        (mutex->__data.__kind & 0x7f) != PTHREAD_MUTEX_TIMED_NP) {
      return nullptr;
    }
    sync->mutex = mutex;
    sync->conditions[0] = reinterpret_cast<pthread_cond_t*>(&header->m_cond_recv);
    sync->conditions[1] = reinterpret_cast<pthread_cond_t*>(&header->m_cond_send);
    return sync;
  } catch (const bip::interprocess_exception&) {
    return nullptr;
  }
}

void FutexWakeAll(void* word) {
  // Process-shared futexes: no FUTEX_PRIVATE_FLAG.
  syscall(SYS_futex, word, FUTEX_WAKE, std::numeric_limits<int>::max(), nullptr, nullptr, 0);
}

// Unlocks the queue's mutex and its conditions' internal locks, as glibc's own unlock paths
// would, and wakes whoever waits for them. Only once the peer's process is gone. True when
// something was locked.
bool ReleaseAbandonedLocks(QueueSync& sync) {
  bool released = false;
  // glibc checks that a mutex it acquires has no owner recorded; the dead thread's id stays.
  __atomic_store_n(&sync.mutex->__data.__owner, 0, __ATOMIC_RELAXED);
  if (__atomic_exchange_n(&sync.mutex->__data.__lock, 0, __ATOMIC_RELEASE) != 0) {
    FutexWakeAll(&sync.mutex->__data.__lock);
    released = true;
  }
  for (pthread_cond_t* condition : sync.conditions) {
    // glibc keeps a condition's internal lock in the low two bits of __g1_orig_size.
    unsigned int* word = &condition->__data.__g1_orig_size;
    if ((__atomic_fetch_and(word, ~3u, __ATOMIC_RELEASE) & 3) != 0) {
      FutexWakeAll(word);
      released = true;
    }
  }
  return released;
}

// A handle on process `pid` that becomes readable when it exits (zombies included); invalid
// when the kernel has no pidfd_open.
Fd OpenProcess(pid_t pid) {
  if (pid <= 0) return Fd();
  return Fd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
}

// Private threads of all links still running (RunningThreads()).
std::atomic<size_t> running_threads{0};

void RemoveQueue(const std::string& name) {
  if (name.empty()) return;
  try {
    bip::message_queue::remove(name.c_str());
  } catch (const bip::interprocess_exception&) {
    // Best effort: a name already gone is what we wanted.
  }
}

}  // namespace

struct MqLink::State {
  // Set before the threads start, then read-only.
  MqQueueNames names;
  std::unique_ptr<bip::message_queue> send_queue;
  std::unique_ptr<bip::message_queue> receive_queue;
  std::unique_ptr<QueueSync> send_sync;  // null: nothing can be released
  std::unique_ptr<QueueSync> receive_sync;
  size_t send_message_bytes = 0;
  size_t receive_message_bytes = 0;
  uint64_t max_message_bytes = 0;
  Clock::duration heartbeat{};
  Clock::duration dead_after{};
  std::shared_ptr<BufferPool> pool;
  // The rendezvous socket, kept open for the link's life: it hangs up as soon as the peer
  // closes its link or dies.
  Fd socket;
  LogLimiter log;

  std::atomic<uint64_t> bytes_copied{0};

  // Held by Send() for a whole frame: one frame at a time goes to the writer.
  SendGate send_gate;  // one Send() at a time

  std::mutex mutex;                     // guards everything below
  std::condition_variable writer_cv;    // the writer waits for a job or its heartbeat time
  std::condition_variable sender_cv;    // Send() waits for its job to be pushed
  std::condition_variable reader_cv;    // the reader waits for room in `frames`
  std::condition_variable receiver_cv;  // Receive() waits for a frame
  std::condition_variable exit_cv;      // Shutdown() waits for the threads to exit
  bool shutdown = false;
  // The first failure (peer gone, bad message); sticky: the link is unusable after it.
  Status broken;

  // The frame being sent: Send()'s parts, read by the writer only under `mutex`, so that Send()
  // may give up (and its caller free the parts) whenever it holds `mutex`.
  std::span<const Part> job_parts;
  bool job_active = false;
  bool job_done = false;
  bool job_header_sent = false;
  uint64_t job_total = 0;
  uint64_t job_left = 0;
  size_t job_part = 0;
  size_t job_part_offset = 0;
  bool mid_frame = false;  // the writer pushed part of a frame and not its end
  // The rest of a frame whose Send() gave up at its deadline, which the writer finishes on
  // its own (the caller's parts are freed once Send() returns).
  std::vector<uint8_t> orphan;
  Part orphan_part;

  // Frames received and not yet taken by Receive().
  std::deque<PooledBuffer> frames;
  size_t queued_bytes = 0;
  bool reader_stalled = false;     // waiting for room: the peer's silence then proves nothing
  bool frame_in_progress = false;  // the reader has part of a frame (Receive() waits for it)
  bool peer_joined = false;        // its hello arrived
  Clock::time_point last_heard;

  // The peer's process: from the socket's SO_PEERCRED, or the pid its hello announced once
  // /proc/<pid>/maps shows it maps the queue. 0 when unknown.
  pid_t peer_pid = 0;
  Fd peer_process;  // pidfd of peer_pid, when the kernel has them
  bool peer_hung_up = false;  // the socket hung up: the peer closed its link, or died
  bool peer_exited = false;   // its process is gone: nothing it held will ever be released
  bool locks_released = false;  // ReleaseIfPeerExitedLocked() did its work
  Clock::time_point next_probe{};

  bool names_removed = false;

  // Joining the threads (in Shutdown(), from whichever thread calls it first).
  std::mutex join_mutex;
  std::thread writer;
  std::thread reader;
  bool writer_exited = false;
  bool reader_exited = false;
  bool joined = false;

  // What Create() and Open() share once the queues are open (their names still exist).
  void Prepare(const MqLinkOptions& options, const std::string& send_name,
               const std::string& receive_name) {
    send_sync = MapQueueSync(send_name, *send_queue);
    receive_sync = MapQueueSync(receive_name, *receive_queue);
    max_message_bytes = options.max_message_bytes;
    heartbeat = options.heartbeat;
    dead_after =
        std::max<Clock::duration>(5 * options.heartbeat, std::chrono::milliseconds(500));
    pool = options.pool ? options.pool : BufferPool::Create();
    if (options.peer_socket >= 0) {
      socket = Fd(fcntl(options.peer_socket, F_DUPFD_CLOEXEC, 0));
      ucred cred{};
      socklen_t length = sizeof(cred);
      if (socket.valid() &&
          getsockopt(socket.get(), SOL_SOCKET, SO_PEERCRED, &cred, &length) == 0 &&
          cred.pid > 0) {
        peer_pid = cred.pid;
        peer_process = OpenProcess(cred.pid);
      }
    }
  }

  void MarkBrokenLocked(Status status) {
    if (broken.ok()) broken = std::move(status);
    writer_cv.notify_all();
    sender_cv.notify_all();
    reader_cv.notify_all();
    receiver_cv.notify_all();
  }

  // Whether anything but silence can tell that the peer is alive.
  bool WatchedLocked() const { return socket.valid() || peer_pid > 0; }

  // Looks at the socket and the peer's process (system calls, so at most every
  // kProbeInterval unless `force`).
  void ProbeLocked(Clock::time_point now, bool force = false) {
    if (!force && now < next_probe) return;
    next_probe = now + kProbeInterval;
    pollfd fds[2];
    nfds_t count = 0;
    if (socket.valid() && !peer_hung_up) fds[count++] = {socket.get(), POLLRDHUP, 0};
    const nfds_t process_index = count;
    if (peer_process.valid() && !peer_exited) fds[count++] = {peer_process.get(), POLLIN, 0};
    if (count > 0 && poll(fds, count, 0) > 0) {
      if (process_index > 0 && (fds[0].revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
        peer_hung_up = true;
      }
      if (process_index < count && fds[process_index].revents != 0) peer_exited = true;
    }
    if (!peer_process.valid() && peer_pid > 0 && !peer_exited && kill(peer_pid, 0) == -1 &&
        errno == ESRCH) {
      peer_exited = true;
    }
  }

  // Declares the peer dead when its process is gone, its socket hung up, or it has been
  // silent too long while this side listened: dead_after when nothing else can tell,
  // kAliveSilenceLimit when its process is known to be alive. False when the link is (now)
  // broken.
  bool CheckPeerLocked(Clock::time_point now) {
    if (!broken.ok()) return false;
    ProbeLocked(now);
    if (peer_exited) {
      MarkBrokenLocked(
          Status::Unavailable("mq peer process " + std::to_string(peer_pid) + " has exited"));
      return false;
    }
    if (peer_hung_up) {
      MarkBrokenLocked(Status::Unavailable("mq peer closed the connection"));
      return false;
    }
    // Unwatched, before its hello: the handshake's deadline covers a peer that never came.
    if (!peer_joined && !WatchedLocked()) return true;
    const Clock::duration limit = WatchedLocked() ? Clock::duration(kAliveSilenceLimit)
                                                  : dead_after;
    if (!reader_stalled && now - last_heard >= limit) {
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(limit).count();
      MarkBrokenLocked(Status::Unavailable("mq peer silent for " + std::to_string(ms) +
                                           " ms (no message or heartbeat): presumed dead"));
      return false;
    }
    return true;
  }

  // Once the peer's process is gone, releases whatever it left locked in either queue, so
  // that a private thread waiting for it moves on (and then sees the link is down).
  void ReleaseIfPeerExitedLocked() {
    ProbeLocked(Clock::now(), /*force=*/true);
    // Once is enough: a dead peer takes nothing again.
    if (!peer_exited || locks_released) return;
    locks_released = true;
    bool released = false;
    if (send_sync) released |= ReleaseAbandonedLocks(*send_sync);
    if (receive_sync) released |= ReleaseAbandonedLocks(*receive_sync);
    if (released) {
      log.Log("mq: released queue locks left held by peer process " + std::to_string(peer_pid) +
              ", which died inside a queue operation");
    }
  }

  bool RoomLocked() const {
    return frames.empty() || (frames.size() < kMaxQueuedFrames && queued_bytes < kMaxQueuedBytes);
  }

  // Pushes one queue message, in slices. False when the link went down meanwhile.
  bool Push(const uint8_t* data, size_t size) {
    while (true) {
      {
        std::lock_guard lock(mutex);
        if (shutdown || !CheckPeerLocked(Clock::now())) return false;
      }
      try {
        if (send_queue->timed_send(data, size, 0, SliceEnd())) return true;
      } catch (const bip::interprocess_exception& e) {
        std::lock_guard lock(mutex);
        MarkBrokenLocked(FromBoost(e, "mq send"));
        return false;
      }
    }
  }
  // Copies the next message of the current job into `staging`; 0 when there is no job (Send()
  // gave up). Sets *data_bytes to the frame bytes copied and *last when it ends the frame.
  size_t NextMessageLocked(uint8_t* staging, size_t* data_bytes, bool* last) {
    if (!job_active) return 0;
    size_t size = 0;
    size_t room = send_message_bytes;
    if (!job_header_sent) {
      job_header_sent = true;
      const bool inline_frame = job_total <= send_message_bytes - sizeof(Header);
      const Header header{
          static_cast<uint32_t>(inline_frame ? Kind::kInlineFrame : Kind::kFrameStart), 0,
          job_total};
      std::memcpy(staging, &header, sizeof(header));
      size = sizeof(header);
      room = inline_frame ? job_total : 0;
    } else {
      room = std::min<uint64_t>(room, job_left);
    }
    *data_bytes = room;
    while (room > 0) {
      const Part& part = job_parts[job_part];
      const size_t n = std::min(room, part.size() - job_part_offset);
      if (n > 0) std::memcpy(staging + size, part.data() + job_part_offset, n);  // empty: null
      size += n;
      room -= n;
      job_left -= n;
      job_part_offset += n;
      if (job_part_offset == part.size()) {
        ++job_part;
        job_part_offset = 0;
      }
    }
    // Skip empty parts so that job_part never points at one with nothing left to read.
    while (job_part < job_parts.size() && job_parts[job_part].empty()) ++job_part;
    *last = job_left == 0;
    return size;
  }

  void WriterLoop() {
    std::vector<uint8_t> staging(send_message_bytes);
    const Header hello{static_cast<uint32_t>(Kind::kHello), 0, static_cast<uint64_t>(getpid())};
    Clock::time_point last_sent = Clock::now();
    if (Push(reinterpret_cast<const uint8_t*>(&hello), sizeof(hello))) {
      std::unique_lock lock(mutex);
      while (true) {
        writer_cv.wait_until(lock, last_sent + heartbeat,
                             [&] { return shutdown || !broken.ok() || job_active; });
        if (shutdown || !CheckPeerLocked(Clock::now())) break;
        if (!job_active) {
          if (Clock::now() < last_sent + heartbeat) continue;
          lock.unlock();
          // A full queue needs no heartbeat: the peer has messages to read.
          const Header beat{static_cast<uint32_t>(Kind::kHeartbeat), 0, 0};
          try {
            send_queue->try_send(&beat, sizeof(beat), 0);
          } catch (const bip::interprocess_exception& e) {
            lock.lock();
            MarkBrokenLocked(FromBoost(e, "mq heartbeat"));
            break;
          }
          last_sent = Clock::now();
          lock.lock();
          continue;
        }
        size_t data_bytes = 0;
        bool last = false;
        const size_t size = NextMessageLocked(staging.data(), &data_bytes, &last);
        if (size == 0) continue;
        mid_frame = !last;
        lock.unlock();
        bytes_copied.fetch_add(data_bytes, std::memory_order_relaxed);
        const bool pushed = Push(staging.data(), size);
        last_sent = Clock::now();
        lock.lock();
        if (!pushed) break;
        bytes_copied.fetch_add(data_bytes, std::memory_order_relaxed);
        if (last && job_active) {
          job_active = false;
          job_done = true;
          sender_cv.notify_all();
        }
      }
      // Leaving between frames, the writer tells the peer at once, which also wakes the
      // peer's reader when it is shutting down too (a full queue, a frame cut short or a dead
      // peer leave that to the socket's hang-up and the slice).
      if (!mid_frame && !peer_exited) {
        lock.unlock();
        const Header goodbye{static_cast<uint32_t>(Kind::kGoodbye), 0, 0};
        try {
          send_queue->try_send(&goodbye, sizeof(goodbye), 0);
        } catch (const bip::interprocess_exception&) {
          // The peer learns it from the socket instead.
        }
      }
    }
    std::lock_guard lock(mutex);
    writer_exited = true;
    exit_cv.notify_all();
  }

  void Deliver(PooledBuffer frame) {
    std::lock_guard lock(mutex);
    frame_in_progress = false;
    queued_bytes += frame.size();
    frames.push_back(std::move(frame));
    receiver_cv.notify_one();
  }

  void DataLoss(const std::string& message) {
    std::lock_guard lock(mutex);
    MarkBrokenLocked(Status::DataLoss("mq link: " + message));
  }

  void ReaderLoop() {
    std::vector<uint8_t> staging(receive_message_bytes);
    MqFrameAssembler assembler(*pool, max_message_bytes, bytes_copied);
    while (true) {
      {
        std::unique_lock lock(mutex);
        if (!assembler.in_frame() && !RoomLocked()) {
          reader_stalled = true;
          // Still watching the peer's socket and process meanwhile.
          while (!shutdown && CheckPeerLocked(Clock::now()) && !RoomLocked()) {
            reader_cv.wait_for(lock, kSlice);
          }
          reader_stalled = false;
          last_heard = Clock::now();  // the time spent stalled proves nothing about the peer
        }
        if (shutdown || !CheckPeerLocked(Clock::now())) break;
      }
      // Raw messages of a large frame land in the frame's buffer when a whole queue message
      // fits there (Boost requires room for the largest message); others go through staging.
      const std::span<uint8_t> target = assembler.Target(staging);
      size_t size = 0;
      unsigned priority = 0;
      try {
        if (!receive_queue->timed_receive(target.data(), target.size(), size, priority,
                                          SliceEnd())) {
          continue;
        }
      } catch (const bip::interprocess_exception& e) {
        std::lock_guard lock(mutex);
        MarkBrokenLocked(FromBoost(e, "mq receive"));
        break;
      }
      {
        std::lock_guard lock(mutex);
        // After the peer died (and what it held was released), a message it was writing may
        // be incomplete: nothing more is taken.
        if (shutdown || !broken.ok()) break;
        last_heard = Clock::now();
      }
      MqFrameAssembler::Step step = assembler.Take(target, size);
      using Step = MqFrameAssembler::Step;
      if (step.kind == Step::Kind::kFrame) {
        Deliver(std::move(step.frame));
      } else if (step.kind == Step::Kind::kFrameBegun) {
        std::lock_guard lock(mutex);
        frame_in_progress = true;
      } else if (step.kind == Step::Kind::kHello) {
        const int64_t pid = static_cast<int64_t>(step.pid);
        std::unique_lock lock(mutex);
        peer_joined = true;
        if (peer_pid == 0) {  // no socket told us already
          lock.unlock();
          const bool watchable = MapsQueue(pid, names.request);
          Fd process = watchable ? OpenProcess(static_cast<pid_t>(pid)) : Fd();
          lock.lock();
          if (watchable) {
            peer_pid = static_cast<pid_t>(pid);
            peer_process = std::move(process);
          }
        }
      } else if (step.kind == Step::Kind::kGoodbye) {
        std::lock_guard lock(mutex);
        MarkBrokenLocked(Status::Unavailable("mq peer closed the connection"));
        break;
      } else if (step.kind == Step::Kind::kDataLoss) {
        DataLoss(step.why);
        break;
      }  // kMore, kHeartbeat: read on
    }
    std::lock_guard lock(mutex);
    reader_exited = true;
    exit_cv.notify_all();
  }
};

namespace {

// Looks after private threads that Shutdown() could not join (stuck on a queue lock held by a
// peer that was alive, but not running, at the time): each watch releases what the peer held
// once its process is gone, and says when both threads have exited. The janitor's own thread
// runs only while it has something to watch.
class Janitor {
 public:
  // `watch` returns true once there is nothing left to watch.
  static void Adopt(std::function<bool()> watch);

 private:
  void Run();

  std::mutex mutex_;
  std::vector<std::function<bool()>> watches_;
  bool running_ = false;
};

Janitor& TheJanitor() {
  static Janitor* janitor = new Janitor();  // never destroyed: its thread may outlive main()
  return *janitor;
}

void Janitor::Adopt(std::function<bool()> watch) {
  Janitor& self = TheJanitor();
  std::lock_guard lock(self.mutex_);
  self.watches_.push_back(std::move(watch));
  if (self.running_) return;
  try {
    std::thread([&self] { self.Run(); }).detach();
    self.running_ = true;
  } catch (const std::system_error&) {
    self.watches_.pop_back();  // the stuck thread keeps its state alive by itself
  }
}

void Janitor::Run() {
  while (true) {
    std::this_thread::sleep_for(kSlice);
    std::lock_guard lock(mutex_);
    std::erase_if(watches_, [](const std::function<bool()>& watch) { return watch(); });
    if (watches_.empty()) {
      running_ = false;
      return;
    }
  }
}

Status ValidateOptions(const MqLinkOptions& options) {
  if (options.heartbeat.count() <= 0) {
    return Status::InvalidArgument("mq link: heartbeat must be positive");
  }
  if (options.queue_depth == 0 || options.queue_message_bytes < kMinQueueMessageBytes) {
    return Status::InvalidArgument("mq link: queue depth must be positive and messages at least " +
                                   std::to_string(kMinQueueMessageBytes) + " bytes");
  }
  return Status::Ok();
}

}  // namespace

MqLink::MqLink(std::shared_ptr<State> state) : state_(std::move(state)) {
  state_->last_heard = Clock::now();
  running_threads.fetch_add(2);
  state_->writer = std::thread([state = state_] {
    state->WriterLoop();
    running_threads.fetch_sub(1);
  });
  state_->reader = std::thread([state = state_] {
    state->ReaderLoop();
    running_threads.fetch_sub(1);
  });
}

Result<std::unique_ptr<MqLink>> MqLink::Create(const MqLinkOptions& options,
                                               MqQueueNames* names_out) {
  if (Status status = ValidateOptions(options); !status.ok()) return status;
  auto state = std::make_shared<State>();
  const std::string prefix = FreshNamePrefix();
  state->names = {prefix + "-req", prefix + "-rep"};
  const bip::permissions owner_only(0600);
  try {
    state->receive_queue = std::make_unique<bip::message_queue>(
        bip::create_only, state->names.request.c_str(), options.queue_depth,
        options.queue_message_bytes, owner_only);
  } catch (const bip::interprocess_exception& e) {
    return FromBoost(e, "creating mq queue " + state->names.request);
  }
  try {
    state->send_queue = std::make_unique<bip::message_queue>(
        bip::create_only, state->names.reply.c_str(), options.queue_depth,
        options.queue_message_bytes, owner_only);
  } catch (const bip::interprocess_exception& e) {
    RemoveQueue(state->names.request);
    return FromBoost(e, "creating mq queue " + state->names.reply);
  }
  state->send_message_bytes = options.queue_message_bytes;
  state->receive_message_bytes = options.queue_message_bytes;
  state->Prepare(options, state->names.reply, state->names.request);
  if (names_out != nullptr) *names_out = state->names;
  return std::unique_ptr<MqLink>(new MqLink(std::move(state)));
}

Result<std::unique_ptr<MqLink>> MqLink::Open(const MqQueueNames& names,
                                             const MqLinkOptions& options) {
  if (Status status = ValidateOptions(options); !status.ok()) return status;
  auto state = std::make_shared<State>();
  state->names = names;
  try {
    state->send_queue = std::make_unique<bip::message_queue>(bip::open_only, names.request.c_str());
    state->receive_queue =
        std::make_unique<bip::message_queue>(bip::open_only, names.reply.c_str());
  } catch (const bip::interprocess_exception& e) {
    return FromBoost(e, "opening mq queues " + names.request + ", " + names.reply);
  }
  // The creator chose the message size: use the queues' own.
  state->send_message_bytes = state->send_queue->get_max_msg_size();
  state->receive_message_bytes = state->receive_queue->get_max_msg_size();
  if (state->send_message_bytes < kMinQueueMessageBytes ||
      state->receive_message_bytes < kMinQueueMessageBytes) {
    return Status::FailedPrecondition("mq link: the queues' messages are too small");
  }
  state->Prepare(options, names.request, names.reply);
  return std::unique_ptr<MqLink>(new MqLink(std::move(state)));
}

MqLink::~MqLink() {
  Shutdown();
  RemoveNames();
}

Status MqLink::Send(std::span<const Part> parts, Clock::time_point deadline) {
  State& s = *state_;
  uint64_t total = 0;
  for (const Part& part : parts) total += part.size();
  if (total > s.max_message_bytes) {
    return Status::ResourceExhausted("mq link: a frame of " + std::to_string(total) +
                                     " bytes, over the maximum of " +
                                     std::to_string(s.max_message_bytes));
  }
  if (!s.send_gate.Enter(deadline)) {
    return Status::DeadlineExceeded("mq link: another frame was still being sent at the deadline");
  }
  SendTurn turn(s.send_gate);
  std::unique_lock lock(s.mutex);
  const auto down = [&s] {
    if (s.shutdown) return Status::Unavailable("mq link shut down");
    if (s.broken.code() == StatusCode::kUnavailable) return s.broken;
    return Status::Unavailable("mq link is down: " + s.broken.ToString());
  };
  if (s.shutdown || !s.broken.ok()) return down();
  while (s.job_active) {  // a frame an earlier Send() left to the writer
    if (s.shutdown || !s.CheckPeerLocked(Clock::now())) return down();
    const Clock::time_point now = Clock::now();
    if (now >= deadline) {
      return Status::DeadlineExceeded("mq link: an earlier frame was still being sent at the "
                                      "deadline");
    }
    s.sender_cv.wait_until(lock, std::min(deadline, now + kSlice));
  }
  s.orphan = {};
  s.job_parts = parts;
  s.job_total = total;
  s.job_left = total;
  s.job_part = 0;
  s.job_part_offset = 0;
  while (s.job_part < parts.size() && parts[s.job_part].empty()) ++s.job_part;
  s.job_header_sent = false;
  s.job_done = false;
  s.job_active = true;
  s.writer_cv.notify_one();
  // The writer pushes a frame's last message outside the lock: a peer that takes it and exits
  // at once can be seen gone before the writer reports the frame sent. It is given this many
  // short waits to report before the send is called failed.
  int report_grace = 20;
  while (!s.job_done) {
    if (!s.shutdown && s.job_header_sent && s.job_left == 0 && report_grace > 0 &&
        !s.CheckPeerLocked(Clock::now())) {
      --report_grace;
      s.sender_cv.wait_for(lock, std::chrono::milliseconds(5));
      continue;
    }
    if (s.shutdown || !s.CheckPeerLocked(Clock::now())) {
      // Give up: the writer reads the parts only under `mutex`, and never again after this.
      s.job_active = false;
      s.job_parts = {};
      return down();
    }
    const Clock::time_point now = Clock::now();
    if (now >= deadline) {
      if (!s.job_header_sent) {
        s.job_active = false;
        s.job_parts = {};
        return Status::DeadlineExceeded("mq link: the frame was not sent by the deadline");
      }
      // The peer has the start of the frame: the writer finishes it from a copy of the rest,
      // so the link and the other calls on it carry on (the peer drops a reply nobody awaits).
      try {
        std::vector<uint8_t> rest;
        rest.reserve(s.job_left);
        for (size_t i = s.job_part; i < s.job_parts.size(); ++i) {
          const Part part = s.job_parts[i].subspan(i == s.job_part ? s.job_part_offset : 0);
          rest.insert(rest.end(), part.begin(), part.end());
        }
        s.orphan = std::move(rest);
      } catch (const std::bad_alloc&) {
        s.job_active = false;
        s.job_parts = {};
        lock.unlock();
        Shutdown();  // the peer holds the start of a frame whose rest will never come
        return Status::Unavailable("mq link: the deadline cut a frame short; link closed");
      }
      s.orphan_part = Part(s.orphan);
      s.job_parts = std::span<const Part>(&s.orphan_part, 1);
      s.job_part = 0;
      s.job_part_offset = 0;
      return Status::DeadlineExceeded(
          "mq link: the deadline passed while the frame was being sent; the link finishes it");
    }
    s.sender_cv.wait_until(lock, std::min(deadline, now + kSlice));
  }
  s.job_done = false;
  s.job_parts = {};
  return Status::Ok();
}

Result<PooledBuffer> MqLink::Receive(Clock::time_point deadline) {
  State& s = *state_;
  std::unique_lock lock(s.mutex);
  while (true) {
    if (s.shutdown) return Status::Unavailable("mq link shut down");
    if (!s.frames.empty()) {
      PooledBuffer frame = std::move(s.frames.front());
      s.frames.pop_front();
      s.queued_bytes -= frame.size();
      s.reader_cv.notify_one();
      return frame;
    }
    const Clock::time_point now = Clock::now();
    if (!s.CheckPeerLocked(now)) return s.broken;
    // A frame half received is not lost by giving up: the reader thread completes it and the
    // next Receive() takes it.
    if (now >= deadline) return Status::DeadlineExceeded("mq link: no frame before the deadline");
    // The reader thread wakes us for a frame or a dead peer; looking every slice as well
    // covers a reader stuck on a lock the dead peer held.
    s.receiver_cv.wait_until(lock, std::min(deadline, now + kSlice));
  }
}

void MqLink::Shutdown() {
  State& s = *state_;
  {
    std::lock_guard lock(s.mutex);
    if (!s.shutdown) {
      s.shutdown = true;
      s.writer_cv.notify_all();
      s.sender_cv.notify_all();
      s.reader_cv.notify_all();
      s.receiver_cv.notify_all();
    }
  }
  std::lock_guard join_lock(s.join_mutex);
  if (s.joined) return;
  s.joined = true;
  bool writer_exited = false;
  bool reader_exited = false;
  {
    // A private thread leaves Boost within a slice, unless it waits for a lock the peer
    // holds: released here at once if the peer's process is gone.
    std::unique_lock lock(s.mutex);
    const Clock::time_point give_up = Clock::now() + kSlice + kStuckGrace;
    while (!(s.writer_exited && s.reader_exited) && Clock::now() < give_up) {
      s.ReleaseIfPeerExitedLocked();
      s.exit_cv.wait_for(lock, kProbeInterval);
    }
    writer_exited = s.writer_exited;
    reader_exited = s.reader_exited;
  }
  // Tells the peer now (even if another process shares the socket), if the goodbye did not.
  if (s.socket.valid()) ::shutdown(s.socket.get(), SHUT_RDWR);
  if (writer_exited)
    s.writer.join();
  else
    s.writer.detach();
  if (reader_exited)
    s.reader.join();
  else
    s.reader.detach();
  if (!writer_exited || !reader_exited) {
    Janitor::Adopt([state = state_] {
      std::lock_guard lock(state->mutex);
      if (state->writer_exited && state->reader_exited) return true;
      state->ReleaseIfPeerExitedLocked();
      return false;
    });
  }
}

void MqLink::RemoveNames() {
  {
    std::lock_guard lock(state_->mutex);
    if (state_->names_removed) return;
    state_->names_removed = true;
  }
  RemoveQueues(state_->names);
}

const MqQueueNames& MqLink::queue_names() const { return state_->names; }

bool MqLink::PeerGone() const {
  std::lock_guard lock(state_->mutex);
  return !state_->broken.ok() || state_->peer_hung_up || state_->peer_exited;
}

pid_t MqLink::peer_pid() const {
  std::lock_guard lock(state_->mutex);
  return state_->peer_pid;
}

uint64_t MqLink::bytes_copied() const {
  return state_->bytes_copied.load(std::memory_order_relaxed);
}

size_t MqLink::RunningThreads() { return running_threads.load(); }

void MqLink::RemoveQueues(const MqQueueNames& names) {
  RemoveQueue(names.request);
  RemoveQueue(names.reply);
}

size_t MqLink::SweepStaleQueues() {
  DIR* dir = opendir(kShmDir);
  if (dir == nullptr) return 0;
  std::vector<std::string> stale;
  const size_t prefix_length = sizeof(kNamePrefix) - 1;
  while (const dirent* entry = readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name.substr(0, prefix_length) != kNamePrefix) continue;
    long pid = 0;
    size_t i = prefix_length;
    for (; i < name.size() && name[i] >= '0' && name[i] <= '9' && pid < (1L << 30); ++i) {
      pid = pid * 10 + (name[i] - '0');
    }
    if (i == prefix_length || i >= name.size() || name[i] != '-' || pid <= 0) continue;
    if (kill(static_cast<pid_t>(pid), 0) == -1 && errno == ESRCH) stale.emplace_back(name);
  }
  closedir(dir);
  for (const std::string& name : stale) RemoveQueue(name);
  return stale.size();
}

}  // namespace ferry::internal
