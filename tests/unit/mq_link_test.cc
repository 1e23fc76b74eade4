// MqLink: frames across processes, chunking, no interleaving, limits, shutdown, dead, stopped
// and departed peers (including ones that die holding a queue's mutex, whose locks the link
// releases), and queue names in /dev/shm.
#include "mq/mq_link.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/interprocess/detail/managed_open_or_create_impl.hpp>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/sanitizers.h"

namespace ferry::internal {
namespace {

namespace bip = boost::interprocess;
using Clock = std::chrono::steady_clock;
using Part = FrameLink::Part;
using Link = ::ferry::internal::MqLink;
constexpr Clock::time_point kForever = Clock::time_point::max();

std::string OurPrefix() { return "ferry-mq-" + std::to_string(getpid()) + "-"; }

bool InDevShm(const std::string& name) { return std::filesystem::exists("/dev/shm/" + name); }

// Every test must leave nothing of this process in /dev/shm.
class MqLink : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
      const std::string name = entry.path().filename().string();
      EXPECT_NE(name.rfind(OurPrefix(), 0), 0u) << "left behind: " << name;
    }
  }
};

std::vector<uint8_t> Pattern(size_t size, uint32_t seed) {
  std::vector<uint8_t> bytes(size);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& b : bytes) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<uint8_t>(x >> 24);
  }
  return bytes;
}

Status SendBytes(FrameLink& link, const std::vector<uint8_t>& bytes) {
  const Part part(bytes.data(), bytes.size());
  return link.Send(std::span<const Part>(&part, 1), kForever);
}

std::vector<uint8_t> Bytes(const PooledBuffer& buffer) {
  return std::vector<uint8_t>(buffer.data(), buffer.data() + buffer.size());
}

int Reap(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return status;
}

// A child process forked before this test creates any thread (forking a multi-threaded process
// is unsafe, and sanitizers refuse it); it learns the queue names through a pipe, runs `body`
// and exits with its return value, without running the parent's destructors or gtest's
// machinery.
class Child {
 public:
  explicit Child(std::function<int(const MqQueueNames&)> body) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(fds[1]);
      MqQueueNames names;
      if (!ReadLine(fds[0], &names.request) || !ReadLine(fds[0], &names.reply)) _exit(20);
      close(fds[0]);
      _exit(body(names));
    }
    close(fds[0]);
    names_fd_ = fds[1];
  }
  ~Child() {
    if (names_fd_ >= 0) close(names_fd_);
  }

  pid_t pid() const { return pid_; }
  bool Start(const MqQueueNames& names) {
    const std::string lines = names.request + "\n" + names.reply + "\n";
    const bool ok =
        write(names_fd_, lines.data(), lines.size()) == static_cast<ssize_t>(lines.size());
    close(std::exchange(names_fd_, -1));
    return ok;
  }

 private:
  static bool ReadLine(int fd, std::string* line) {
    char c;
    while (read(fd, &c, 1) == 1) {
      if (c == '\n') return true;
      line->push_back(c);
    }
    return false;
  }

  pid_t pid_ = -1;
  int names_fd_ = -1;
};

// The child side of the two-process tests: opens the queues, unlinks their names (both sides
// have now opened them) and echoes every frame until an empty one.
// For tests about frames, not liveness, on both sides: 5 s (not 500 ms) of silence before a
// peer is presumed dead, so a process starved on a loaded machine is not taken for a dead one.
// (A link given the rendezvous socket knows the peer's pid and needs no such allowance.)
MqLinkOptions Patient() {
  MqLinkOptions options;
  options.heartbeat = std::chrono::seconds(1);
  return options;
}

// A link created with `options` whose queue names `child` is given; null on failure.
std::unique_ptr<Link> LinkTo(Child& child, const MqLinkOptions& options = {}) {
  MqQueueNames names;
  Result<std::unique_ptr<Link>> link = Link::Create(options, &names);
  EXPECT_TRUE(link.ok()) << link.status();
  if (!link.ok() || !child.Start(names)) return nullptr;
  return std::move(*link);
}

int EchoUntilEmptyFrameWith(const MqQueueNames& names, const MqLinkOptions& options) {
  Result<std::unique_ptr<Link>> link = Link::Open(names, options);
  if (!link.ok()) return 10;
  (*link)->RemoveNames();
  while (true) {
    Result<PooledBuffer> frame = (*link)->Receive(kForever);
    if (!frame.ok()) return 11;
    if (frame->size() == 0) break;
    const Part part(frame->data(), frame->size());
    if (!(*link)->Send(std::span<const Part>(&part, 1), kForever).ok()) return 12;
  }
  link->reset();
  return 0;
}

int EchoUntilEmptyFrame(const MqQueueNames& names) { return EchoUntilEmptyFrameWith(names, {}); }
int EchoPatiently(const MqQueueNames& names) { return EchoUntilEmptyFrameWith(names, Patient()); }

struct LocalPair {
  std::unique_ptr<Link> server;
  std::unique_ptr<Link> client;
};

// Both ends in this process: the queues do not care.
LocalPair MakeLocalPair(MqLinkOptions server_options = {}, MqLinkOptions client_options = {}) {
  MqQueueNames names;
  Result<std::unique_ptr<Link>> server = Link::Create(server_options, &names);
  EXPECT_TRUE(server.ok()) << server.status();
  Result<std::unique_ptr<Link>> client = Link::Open(names, client_options);
  EXPECT_TRUE(client.ok()) << client.status();
  (*client)->RemoveNames();
  return {std::move(*server), std::move(*client)};
}

TEST_F(MqLink, SmallFramesMadeOfSeveralPartsRoundTripThroughAnotherProcess) {
  Child child(EchoPatiently);
  ASSERT_GT(child.pid(), 0);
  std::unique_ptr<Link> link = LinkTo(child, Patient());
  ASSERT_NE(link, nullptr);
  EXPECT_EQ(link->name(), "mq");

  for (uint32_t i = 0; i < 20; ++i) {
    const std::vector<uint8_t> head = Pattern(4 + i, i);
    const std::vector<uint8_t> body = Pattern(100 * i, i + 1000);
    const Part parts[] = {Part(head), Part(), Part(body)};
    ASSERT_TRUE(link->Send(parts, kForever).ok());
    Result<PooledBuffer> echo = link->Receive(kForever);
    ASSERT_TRUE(echo.ok()) << echo.status();
    std::vector<uint8_t> expected = head;
    expected.insert(expected.end(), body.begin(), body.end());
    EXPECT_EQ(Bytes(*echo), expected);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(echo->data()) % 16, 0u);
  }
  ASSERT_TRUE(SendBytes(*link, {}).ok());
  const int status = Reap(child.pid());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST_F(MqLink, FrameLargerThanAQueueMessageIsSplitAndRejoined) {
  Child child(EchoPatiently);
  ASSERT_GT(child.pid(), 0);
  std::unique_ptr<Link> link = LinkTo(child, Patient());
  ASSERT_NE(link, nullptr);

  constexpr size_t kSize = 16 * 1024 * 1024;
  const std::vector<uint8_t> head = Pattern(100, 1);
  const std::vector<uint8_t> body = Pattern(kSize - head.size(), 2);
  const Part parts[] = {Part(head), Part(body)};
  ASSERT_TRUE(link->Send(parts, kForever).ok());
  Result<PooledBuffer> echo = link->Receive(kForever);
  ASSERT_TRUE(echo.ok()) << echo.status();
  ASSERT_EQ(echo->size(), kSize);
  EXPECT_EQ(std::memcmp(echo->data(), head.data(), head.size()), 0);
  EXPECT_EQ(std::memcmp(echo->data() + head.size(), body.data(), body.size()), 0);

  // Sending stages each byte and pushes it (2x); receiving pops it in place, staging at most
  // the chunk that does not fit the buffer's tail.
  const uint64_t copied = link->bytes_copied();
  EXPECT_GE(copied, 3 * kSize);
  EXPECT_LE(copied, 3 * kSize + 2 * MqLinkOptions().queue_message_bytes);

  ASSERT_TRUE(SendBytes(*link, {}).ok());
  const int status = Reap(child.pid());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST_F(MqLink, FramesFromConcurrentSendersNeverInterleave) {
  LocalPair pair = MakeLocalPair();
  constexpr int kThreads = 4;
  constexpr int kFramesEach = 40;
  std::vector<std::thread> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < kFramesEach; ++i) {
        // Sizes around the queue message size, so that frames are split into several messages.
        const size_t size = 8 + static_cast<size_t>((t * 37 + i * 7919) % (150 * 1024));
        std::vector<uint8_t> frame(size, static_cast<uint8_t>(t + 1));
        const uint32_t tag[2] = {static_cast<uint32_t>(t), static_cast<uint32_t>(i)};
        std::memcpy(frame.data(), tag, sizeof(tag));
        // Two parts, split mid-frame, so that one frame's parts could interleave with another's.
        const Part parts[] = {Part(frame.data(), size / 2),
                              Part(frame.data() + size / 2, size - size / 2)};
        EXPECT_TRUE(pair.client->Send(parts, kForever).ok());
      }
    });
  }
  std::vector<int> next(kThreads, 0);
  for (int n = 0; n < kThreads * kFramesEach; ++n) {
    Result<PooledBuffer> frame = pair.server->Receive(kForever);
    ASSERT_TRUE(frame.ok()) << frame.status();
    uint32_t tag[2];
    ASSERT_GE(frame->size(), sizeof(tag));
    std::memcpy(tag, frame->data(), sizeof(tag));
    ASSERT_LT(tag[0], static_cast<uint32_t>(kThreads));
    const int t = static_cast<int>(tag[0]);
    EXPECT_EQ(tag[1], static_cast<uint32_t>(next[t]++)) << "frames of one sender stay in order";
    const size_t size = 8 + static_cast<size_t>((t * 37 + tag[1] * 7919) % (150 * 1024));
    ASSERT_EQ(frame->size(), size);
    for (size_t i = sizeof(tag); i < size; ++i) {
      ASSERT_EQ(frame->data()[i], t + 1) << "frame of sender " << t << " corrupted at " << i;
    }
  }
  for (auto& sender : senders) sender.join();
}

TEST_F(MqLink, FrameAnnouncingMoreThanTheReceiversMaximumIsDataLoss) {
  MqLinkOptions small;
  small.max_message_bytes = 1024 * 1024;
  LocalPair pair = MakeLocalPair(small, {});
  const std::vector<uint8_t> fine = Pattern(1000, 1);
  ASSERT_TRUE(SendBytes(*pair.client, fine).ok());
  // The over-long frame blocks its sender once the queue fills (the receiver stops reading):
  // send it from a thread that Shutdown() releases.
  std::thread sender(
      [&] { EXPECT_FALSE(SendBytes(*pair.client, Pattern(2 * 1024 * 1024, 2)).ok()); });
  Result<PooledBuffer> first = pair.server->Receive(kForever);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(Bytes(*first), fine);
  Result<PooledBuffer> second = pair.server->Receive(kForever);
  EXPECT_EQ(second.status().code(), StatusCode::kDataLoss) << second.status();
  EXPECT_EQ(pair.server->Receive(kForever).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(pair.server->Send({}, kForever).code(), StatusCode::kUnavailable);
  pair.client->Shutdown();
  sender.join();
}

TEST_F(MqLink, SendRefusesAFrameOverItsOwnMaximum) {
  MqLinkOptions small;
  small.max_message_bytes = 4096;
  LocalPair pair = MakeLocalPair({}, small);
  EXPECT_EQ(SendBytes(*pair.client, Pattern(4097, 1)).code(), StatusCode::kResourceExhausted);
  ASSERT_TRUE(SendBytes(*pair.client, Pattern(4096, 1)).ok());
  Result<PooledBuffer> frame = pair.server->Receive(kForever);
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ(Bytes(*frame), Pattern(4096, 1));
}

TEST_F(MqLink, ShutdownUnblocksABlockedReceiveWhileThePeerIsAlive) {
  LocalPair pair = MakeLocalPair();
  std::mutex mutex;
  std::condition_variable cv;
  bool receiving = false;
  Status status;
  Clock::time_point returned;
  std::thread receiver([&] {
    {
      std::lock_guard lock(mutex);
      receiving = true;
    }
    cv.notify_all();
    status = pair.server->Receive(kForever).status();
    returned = Clock::now();
  });
  {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return receiving; });
  }
  const Clock::time_point start = Clock::now();
  pair.server->Shutdown();
  receiver.join();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status;
  // Well under the 500 ms of silence after which a peer is presumed dead: Shutdown did it.
  EXPECT_LT(returned - start, std::chrono::milliseconds(300));
  EXPECT_EQ(pair.server->Receive(kForever).status().code(), StatusCode::kUnavailable);
  pair.server->Shutdown();  // idempotent
}

TEST_F(MqLink, ReceiveIsDeadlineExceededWhenNoFrameBeginsByTheDeadline) {
  LocalPair pair = MakeLocalPair();
  const Clock::time_point start = Clock::now();
  Result<PooledBuffer> none = pair.server->Receive(start + std::chrono::milliseconds(50));
  const Clock::duration waited = Clock::now() - start;
  EXPECT_EQ(none.status().code(), StatusCode::kDeadlineExceeded) << none.status();
  EXPECT_GE(waited, std::chrono::milliseconds(50));
  EXPECT_LT(waited, std::chrono::milliseconds(400));
  EXPECT_EQ(pair.server->Receive(Clock::now()).status().code(), StatusCode::kDeadlineExceeded);
  // The link is still up.
  ASSERT_TRUE(SendBytes(*pair.client, Pattern(10, 1)).ok());
  Result<PooledBuffer> frame = pair.server->Receive(Clock::now() + std::chrono::seconds(5));
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ(Bytes(*frame), Pattern(10, 1));
}

TEST_F(MqLink, ShutdownUnblocksASendBlockedByAPeerThatDoesNotDrain) {
  LocalPair pair = MakeLocalPair();
  std::mutex mutex;
  std::condition_variable cv;
  int sent = 0;
  Status last;
  std::thread sender([&] {
    const std::vector<uint8_t> big = Pattern(12 * 1024 * 1024, 3);
    while (true) {
      Status status = SendBytes(*pair.client, big);
      std::lock_guard lock(mutex);
      if (!status.ok()) {
        last = status;
        break;
      }
      ++sent;
      cv.notify_all();
    }
  });
  {
    // The server never calls Receive: it takes one frame, then its queue fills up.
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return sent >= 1; });
  }
  pair.client->Shutdown();
  sender.join();
  EXPECT_EQ(last.code(), StatusCode::kUnavailable) << last;
  EXPECT_LE(sent, 2);
}

TEST_F(MqLink, SigkilledPeerIsUnavailableWithinOneSecond) {
  Child child(EchoUntilEmptyFrame);
  ASSERT_GT(child.pid(), 0);
  std::unique_ptr<Link> link = LinkTo(child);
  ASSERT_NE(link, nullptr);
  ASSERT_TRUE(SendBytes(*link, Pattern(10, 1)).ok());
  ASSERT_TRUE(link->Receive(kForever).ok());

  ASSERT_EQ(kill(child.pid(), SIGKILL), 0);
  const Clock::time_point killed = Clock::now();
  // Not reaped yet: the pid stays valid (a zombie), so only the missing heartbeats tell.
  Result<PooledBuffer> frame = link->Receive(kForever);
  const Clock::duration elapsed = Clock::now() - killed;
  EXPECT_EQ(frame.status().code(), StatusCode::kUnavailable) << frame.status();
  EXPECT_LT(elapsed, std::chrono::seconds(1));
  EXPECT_EQ(SendBytes(*link, Pattern(10, 1)).code(), StatusCode::kUnavailable);
  const int status = Reap(child.pid());
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
}

TEST_F(MqLink, SendBlockedByAPeerThatDiedIsUnavailableOnceItIsReaped) {
#if defined(__SANITIZE_THREAD__)
  // The forked peer must start the link's threads after fork(); under TSan they never run in
  // a child of a process that already had threads (TSan's own), so the peer never drains.
  GTEST_SKIP() << "needs threads in a forked child, which TSan does not support";
#endif
  Child child([](const MqQueueNames& names) {
    Result<std::unique_ptr<Link>> peer = Link::Open(names, {});
    if (!peer.ok()) return 10;
    if (!SendBytes(**peer, Pattern(1, 1)).ok()) return 12;
    // Never receives: the parent's frames pile up until its Send blocks.
    pause();
    return 0;
  });
  ASSERT_GT(child.pid(), 0);
  MqLinkOptions slow_heartbeat;  // silence would take 5 s to count: only the pid can tell
  slow_heartbeat.heartbeat = std::chrono::seconds(1);
  MqQueueNames names;
  Result<std::unique_ptr<Link>> link = Link::Create(slow_heartbeat, &names);
  ASSERT_TRUE(link.ok()) << link.status();
  ASSERT_TRUE(child.Start(names));
  // The peer has joined (its hello precedes this frame); a deadline, in case it never does.
  Result<PooledBuffer> joined = (*link)->Receive(Clock::now() + std::chrono::seconds(10));
  if (!joined.ok()) {
    kill(child.pid(), SIGKILL);
    Reap(child.pid());
    FAIL() << joined.status();
  }

  std::mutex mutex;
  std::condition_variable cv;
  int sent = 0;
  Status last;
  Clock::time_point failed_at;
  std::thread sender([&] {
    const std::vector<uint8_t> big = Pattern(12 * 1024 * 1024, 4);
    while (true) {
      Status status = SendBytes(**link, big);
      std::lock_guard lock(mutex);
      if (!status.ok()) {
        last = status;
        failed_at = Clock::now();
        break;
      }
      ++sent;
      cv.notify_all();
    }
  });
  {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return sent >= 1; });
  }
  ASSERT_EQ(kill(child.pid(), SIGKILL), 0);
  const int status = Reap(child.pid());
  const Clock::time_point reaped = Clock::now();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  sender.join();
  EXPECT_EQ(last.code(), StatusCode::kUnavailable) << last;
  EXPECT_LT(failed_at - reaped, std::chrono::seconds(1));
}

// The mutex inside a queue's shared memory, mapped through `region`. Boost 1.74's queue
// mutex is not robust: what a peer holds when it dies stays locked forever.
bip::interprocess_mutex* QueueMutex(const std::string& name,
                                    std::unique_ptr<bip::mapped_region>* region) {
  using Impl =
      bip::ipcdetail::managed_open_or_create_impl<bip::shared_memory_object, 0, true, false>;
  bip::shared_memory_object shm(bip::open_only, name.c_str(), bip::read_write);
  *region = std::make_unique<bip::mapped_region>(shm, bip::read_write);
  auto* header = reinterpret_cast<bip::ipcdetail::mq_hdr_t<bip::offset_ptr<void>>*>(
      static_cast<char*>((*region)->get_address()) + Impl::ManagedOpenOrCreateUserOffset);
  return &header->m_mutex;
}

TEST_F(MqLink, PeerKilledWhileHoldingBothQueueMutexesIsUnavailableWithinOneSecond) {
  int echoed[2];  // parent -> child: the echo arrived, the queues may now lock up
  int locked[2];  // child -> parent: both mutexes held
  ASSERT_EQ(pipe(echoed), 0);
  ASSERT_EQ(pipe(locked), 0);
  Child child([&](const MqQueueNames& names) {
    close(echoed[1]);
    close(locked[0]);
    Result<std::unique_ptr<Link>> peer = Link::Open(names, {});
    if (!peer.ok()) return 10;
    Result<PooledBuffer> frame = (*peer)->Receive(kForever);
    if (!frame.ok()) return 11;
    if (!SendBytes(**peer, Bytes(*frame)).ok()) return 12;
    char go = 0;
    if (read(echoed[0], &go, 1) != 1) return 15;
    std::unique_ptr<bip::mapped_region> request_region, reply_region;
    QueueMutex(names.request, &request_region)->lock();
    QueueMutex(names.reply, &reply_region)->lock();
    const char byte = 1;
    if (write(locked[1], &byte, 1) != 1) return 13;
    raise(SIGKILL);
    return 14;
  });
  ASSERT_GT(child.pid(), 0);
  close(echoed[0]);
  close(locked[1]);
  const size_t threads_before = Link::RunningThreads();
  MqQueueNames names;
  Result<std::unique_ptr<Link>> link = Link::Create({}, &names);
  ASSERT_TRUE(link.ok()) << link.status();
  std::unique_ptr<bip::mapped_region> request_region, reply_region;
  bip::interprocess_mutex* request_mutex = QueueMutex(names.request, &request_region);
  bip::interprocess_mutex* reply_mutex = QueueMutex(names.reply, &reply_region);
  ASSERT_TRUE(child.Start(names));
  ASSERT_TRUE(SendBytes(**link, Pattern(10, 1)).ok());
  ASSERT_TRUE((*link)->Receive(kForever).ok());
  char byte = 1;
  ASSERT_EQ(write(echoed[1], &byte, 1), 1);
  close(echoed[1]);
  ASSERT_EQ(read(locked[0], &byte, 1), 1);
  close(locked[0]);
  const Clock::time_point locked_at = Clock::now();

  Result<PooledBuffer> frame = (*link)->Receive(kForever);
  EXPECT_EQ(frame.status().code(), StatusCode::kUnavailable) << frame.status();
  EXPECT_LT(Clock::now() - locked_at, std::chrono::seconds(1));
  EXPECT_EQ(SendBytes(**link, Pattern(10, 1)).code(), StatusCode::kUnavailable);
  // The peer's process is gone: the link releases what it held, so its own threads leave
  // Boost and are joined, not abandoned.
  const Clock::time_point destroying = Clock::now();
  link->reset();
  EXPECT_LT(Clock::now() - destroying, std::chrono::milliseconds(500));
  EXPECT_EQ(Link::RunningThreads(), threads_before);
  EXPECT_FALSE(InDevShm(names.request));
  EXPECT_FALSE(InDevShm(names.reply));
  const int status = Reap(child.pid());
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  // Nothing is left locked for anyone mapping the queues afterwards.
  EXPECT_TRUE(request_mutex->try_lock());
  request_mutex->unlock();
  EXPECT_TRUE(reply_mutex->try_lock());
  reply_mutex->unlock();
}

TEST_F(MqLink, PeerKilledWhileHoldingAMutexAfterShutdownLeavesNoThreadBehind) {
  // The link shuts down while its peer is alive and holds the reply queue's mutex (as if
  // stopped mid-operation): the writer cannot leave Boost yet. Once the peer dies, what it
  // held is released and the thread exits.
  int locked[2];
  int die[2];
  ASSERT_EQ(pipe(locked), 0);
  ASSERT_EQ(pipe(die), 0);
  Child child([&](const MqQueueNames& names) {
    close(locked[0]);
    close(die[1]);
    std::unique_ptr<bip::mapped_region> region;
    bip::interprocess_mutex* mutex = QueueMutex(names.reply, &region);
    // Announce ourselves as the link's peer, as an opened link would.
    bip::message_queue request(bip::open_only, names.request.c_str());
    const uint32_t hello[4] = {0x464d0001, 0, static_cast<uint32_t>(getpid()), 0};
    request.send(hello, sizeof(hello), 0);
    mutex->lock();
    const char byte = 1;
    if (write(locked[1], &byte, 1) != 1) return 13;
    char go = 0;
    if (read(die[0], &go, 1) != 1) return 15;
    raise(SIGKILL);
    return 14;
  });
  ASSERT_GT(child.pid(), 0);
  close(locked[1]);
  close(die[0]);
  const size_t threads_before = Link::RunningThreads();
  MqQueueNames names;
  Result<std::unique_ptr<Link>> link = Link::Create({}, &names);
  ASSERT_TRUE(link.ok()) << link.status();
  std::unique_ptr<bip::mapped_region> region;
  bip::interprocess_mutex* reply_mutex = QueueMutex(names.reply, &region);
  ASSERT_TRUE(child.Start(names));
  char byte = 0;
  ASSERT_EQ(read(locked[0], &byte, 1), 1);
  close(locked[0]);
  // The writer's next heartbeat waits for the mutex: glibc then marks it contended (2).
  auto* raw = reinterpret_cast<pthread_mutex_t*>(reply_mutex);
  const Clock::time_point waited_until = Clock::now() + std::chrono::seconds(5);
  while (__atomic_load_n(&raw->__data.__lock, __ATOMIC_RELAXED) != 2 &&
         Clock::now() < waited_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(__atomic_load_n(&raw->__data.__lock, __ATOMIC_RELAXED), 2);
  // The link must know who holds the lock before it shuts down: a peer whose hello its reader
  // had not read yet (a loaded machine) is nobody it can watch die, and the writer stays stuck.
  while ((*link)->peer_pid() != child.pid() && Clock::now() < waited_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ((*link)->peer_pid(), child.pid());
  const Clock::time_point destroying = Clock::now();
  link->reset();
  EXPECT_LT(Clock::now() - destroying, std::chrono::milliseconds(500));
  byte = 1;
  ASSERT_EQ(write(die[1], &byte, 1), 1);
  close(die[1]);
  const int status = Reap(child.pid());
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  // Half a second unloaded; a sanitized build beside the chaos tests once needed over 5 s, and
  // so did a plain one on a 2-core machine also running a fuzzer and two builds.
  const Clock::time_point until = Clock::now() + std::chrono::seconds(30);
  while (Link::RunningThreads() != threads_before && Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(Link::RunningThreads(), threads_before);
  EXPECT_TRUE(reply_mutex->try_lock());
  reply_mutex->unlock();
}

TEST_F(MqLink, StoppedPeerIsNotDeclaredDead) {
  Child child(EchoUntilEmptyFrame);
  ASSERT_GT(child.pid(), 0);
  std::unique_ptr<Link> link = LinkTo(child);
  ASSERT_NE(link, nullptr);
  ASSERT_TRUE(SendBytes(*link, Pattern(10, 1)).ok());
  ASSERT_TRUE(link->Receive(kForever).ok());

  // Twice the 500 ms after which an unwatched silent peer counts as dead.
  ASSERT_EQ(kill(child.pid(), SIGSTOP), 0);
  Result<PooledBuffer> none = link->Receive(Clock::now() + std::chrono::seconds(1));
  EXPECT_EQ(none.status().code(), StatusCode::kDeadlineExceeded) << none.status();
  ASSERT_EQ(kill(child.pid(), SIGCONT), 0);
  ASSERT_TRUE(SendBytes(*link, Pattern(20, 2)).ok());
  Result<PooledBuffer> echo = link->Receive(Clock::now() + std::chrono::seconds(10));
  ASSERT_TRUE(echo.ok()) << echo.status();
  EXPECT_EQ(Bytes(*echo), Pattern(20, 2));
  ASSERT_TRUE(SendBytes(*link, {}).ok());
  const int status = Reap(child.pid());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST_F(MqLink, PeerThatShutsDownIsUnavailableAtOnceAndEveryThreadIsJoined) {
  const size_t threads_before = Link::RunningThreads();
  {
    LocalPair pair = MakeLocalPair();
    ASSERT_TRUE(SendBytes(*pair.client, Pattern(10, 1)).ok());
    ASSERT_TRUE(pair.server->Receive(kForever).ok());
    const Clock::time_point start = Clock::now();
    pair.client.reset();  // its goodbye, not silence, tells the server
    Result<PooledBuffer> frame = pair.server->Receive(kForever);
    EXPECT_EQ(frame.status().code(), StatusCode::kUnavailable) << frame.status();
    EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(300));
    EXPECT_EQ(pair.server->Send({}, kForever).code(), StatusCode::kUnavailable);
  }
  EXPECT_EQ(Link::RunningThreads(), threads_before);
}

// A socket pair standing in for the rendezvous socket.
struct SocketPair {
  SocketPair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0); }
  ~SocketPair() {
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
  }
  void Close(int i) { close(std::exchange(fds[i], -1)); }
  int fds[2] = {-1, -1};
};

TEST_F(MqLink, PeerWhoseSocketHangsUpIsUnavailableWhetherOrNotItStillSendsHeartbeats) {
  SocketPair sockets;
  MqLinkOptions server_options;
  server_options.peer_socket = sockets.fds[0];
  LocalPair pair = MakeLocalPair(server_options, {});
  ASSERT_TRUE(SendBytes(*pair.client, Pattern(10, 1)).ok());
  ASSERT_TRUE(pair.server->Receive(kForever).ok());
  sockets.Close(0);  // the link keeps its own copy
  const Clock::time_point start = Clock::now();
  sockets.Close(1);  // the peer's end: what a dead peer's kernel does
  Result<PooledBuffer> frame = pair.server->Receive(kForever);
  EXPECT_EQ(frame.status().code(), StatusCode::kUnavailable) << frame.status();
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(500));
}

TEST_F(MqLink, PeerThatVanishesBeforeItsFirstQueueMessageIsUnavailable) {
  // A "server" that created the queues, handed them over and went away without a word.
  for (const bool with_deadline : {false, true}) {
    SCOPED_TRACE(with_deadline ? "with a deadline" : "without a deadline");
    const MqQueueNames names{OurPrefix() + "0-mute-req", OurPrefix() + "0-mute-rep"};
    std::optional<SocketPair> sockets(std::in_place);
    {
      bip::message_queue request(bip::create_only, names.request.c_str(), 16, 64 * 1024,
                                 bip::permissions(0600));
      bip::message_queue reply(bip::create_only, names.reply.c_str(), 16, 64 * 1024,
                               bip::permissions(0600));
    }
    MqLinkOptions client_options;
    client_options.peer_socket = sockets->fds[1];
    Result<std::unique_ptr<Link>> client = Link::Open(names, client_options);
    ASSERT_TRUE(client.ok()) << client.status();
    (*client)->RemoveNames();
    const Clock::time_point start = Clock::now();
    sockets.reset();
    const Clock::time_point deadline =
        with_deadline ? start + std::chrono::seconds(5) : kForever;
    Result<PooledBuffer> frame = (*client)->Receive(deadline);
    EXPECT_EQ(frame.status().code(), StatusCode::kUnavailable) << frame.status();
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
    const Part part;
    EXPECT_EQ((*client)->Send(std::span<const Part>(&part, 1), deadline).code(),
              StatusCode::kUnavailable);
  }
}

TEST_F(MqLink, SendWhoseDeadlinePassesMidFrameLeavesTheFrameWholeAndTheLinkUp) {
  LocalPair pair = MakeLocalPair();
  // The server takes nothing yet: 16 frames stall its reader, then the queue fills.
  for (uint32_t i = 0; i < 16; ++i) ASSERT_TRUE(SendBytes(*pair.client, Pattern(10, i)).ok());
  std::vector<uint8_t> big = Pattern(4 * 1024 * 1024, 99);
  const Part part(big);
  const Status late = pair.client->Send(std::span<const Part>(&part, 1),
                                        Clock::now() + std::chrono::milliseconds(100));
  EXPECT_EQ(late.code(), StatusCode::kDeadlineExceeded) << late;
  const std::vector<uint8_t> expected = big;
  std::fill(big.begin(), big.end(), 0);  // the caller's buffer is its own again
  for (uint32_t i = 0; i < 16; ++i) {
    Result<PooledBuffer> frame = pair.server->Receive(kForever);
    ASSERT_TRUE(frame.ok()) << frame.status();
    EXPECT_EQ(Bytes(*frame), Pattern(10, i));
  }
  Result<PooledBuffer> whole = pair.server->Receive(kForever);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_TRUE(Bytes(*whole) == expected);
  ASSERT_TRUE(SendBytes(*pair.client, Pattern(30, 3)).ok());
  Result<PooledBuffer> after = pair.server->Receive(kForever);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(Bytes(*after), Pattern(30, 3));
}

TEST_F(MqLink, RemoveNamesUnlinksBothQueuesAndTheLinkKeepsWorking) {
  MqQueueNames names;
  Result<std::unique_ptr<Link>> server = Link::Create({}, &names);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(names.request.rfind(OurPrefix(), 0), 0u);
  EXPECT_EQ(names.request.substr(names.request.size() - 4), "-req");
  EXPECT_EQ(names.reply.substr(0, names.reply.size() - 4),
            names.request.substr(0, names.request.size() - 4));
  EXPECT_EQ(std::filesystem::status("/dev/shm/" + names.request).permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_EQ(std::filesystem::status("/dev/shm/" + names.reply).permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  Result<std::unique_ptr<Link>> client = Link::Open(names, {});
  ASSERT_TRUE(client.ok()) << client.status();

  (*server)->RemoveNames();
  EXPECT_FALSE(InDevShm(names.request));
  EXPECT_FALSE(InDevShm(names.reply));
  (*client)->RemoveNames();  // idempotent, from either side
  (*server)->RemoveNames();

  ASSERT_TRUE(SendBytes(**client, Pattern(100, 1)).ok());
  Result<PooledBuffer> request = (*server)->Receive(kForever);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(Bytes(*request), Pattern(100, 1));
  ASSERT_TRUE(SendBytes(**server, Pattern(200, 2)).ok());
  Result<PooledBuffer> reply = (*client)->Receive(kForever);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(Bytes(*reply), Pattern(200, 2));
}

TEST_F(MqLink, DestroyingEitherSideUnlinksTheNames) {
  MqQueueNames names;
  Result<std::unique_ptr<Link>> server = Link::Create({}, &names);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE(InDevShm(names.request));
  server->reset();
  EXPECT_FALSE(InDevShm(names.request));
  EXPECT_FALSE(InDevShm(names.reply));

  server = Link::Create({}, &names);
  ASSERT_TRUE(server.ok()) << server.status();
  Result<std::unique_ptr<Link>> client = Link::Open(names, {});
  ASSERT_TRUE(client.ok()) << client.status();
  client->reset();
  EXPECT_FALSE(InDevShm(names.request));
  EXPECT_FALSE(InDevShm(names.reply));
}

TEST_F(MqLink, OpeningQueuesThatDoNotExistIsNotFound) {
  EXPECT_EQ(
      Link::Open({OurPrefix() + "0-none-req", OurPrefix() + "0-none-rep"}, {}).status().code(),
      StatusCode::kNotFound);
}

TEST_F(MqLink, SweepStaleQueuesRemovesADeadProcesssQueuesAndKeepsALiveOnes) {
  // A pid above pid_max never names a process.
  long pid_max = 0;
  std::ifstream("/proc/sys/kernel/pid_max") >> pid_max;
  ASSERT_GT(pid_max, 0);
  const long dead = pid_max + 1;
  const std::string stale = "ferry-mq-" + std::to_string(dead) + "-0-sweeptest-req";
  const std::string live = OurPrefix() + "0-sweeptest-req";
  for (const std::string& name : {stale, live}) {
    bip::message_queue queue(bip::create_only, name.c_str(), 1, 64, bip::permissions(0600));
  }
  ASSERT_TRUE(InDevShm(stale));
  ASSERT_TRUE(InDevShm(live));
  EXPECT_GE(Link::SweepStaleQueues(), 1u);
  EXPECT_FALSE(InDevShm(stale));
  EXPECT_TRUE(InDevShm(live));
  Link::RemoveQueues({live, ""});
  EXPECT_FALSE(InDevShm(live));
}

}  // namespace
}  // namespace ferry::internal
