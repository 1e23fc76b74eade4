// Length-prefixed frames over a stream socket: whole frames per system call, deadlines by
// non-blocking calls and poll (Asio's synchronous operations can express neither).
#include "socket/socket_link.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <boost/system/system_error.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <system_error>
#include <thread>
#include <vector>

namespace ferry::internal {
namespace asio = boost::asio;
namespace {

using Clock = std::chrono::steady_clock;

// How an I/O loop ended.
enum class Io { kDone, kDeadline, kClosed, kError };

// Waits until `fd` is ready for `events` or `deadline` passes.
Io AwaitReady(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Io::kDeadline;
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), INT_MAX)));
    if (n > 0) return Io::kDone;
    if (n < 0 && errno != EINTR) return Io::kError;
  }
}

// Writes every byte of `*parts` (a whole frame per call where the kernel takes it). Without a
// deadline the socket's blocking write waits for room; with one, writes do not block and poll
// for room until the deadline. `*written` counts the bytes that went out; `*parts` and
// `*count` are left at what remains, so a caller can go on with another deadline.
Io WriteAll(int fd, iovec** parts, int* count, Clock::time_point deadline, size_t* written) {
  const bool bounded = deadline != Clock::time_point::max();
  while (*count > 0) {
    msghdr message{};
    message.msg_iov = *parts;
    message.msg_iovlen = static_cast<size_t>(*count);
    const ssize_t n = sendmsg(fd, &message, MSG_NOSIGNAL | (bounded ? MSG_DONTWAIT : 0));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (bounded && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (Io ready = AwaitReady(fd, POLLOUT, deadline); ready != Io::kDone) return ready;
        continue;
      }
      return errno == EPIPE || errno == ECONNRESET ? Io::kClosed : Io::kError;
    }
    *written += static_cast<size_t>(n);
    size_t left = static_cast<size_t>(n);  // skip what went out
    while (*count > 0 && left >= (*parts)->iov_len) {
      left -= (*parts)->iov_len;
      ++*parts;
      --*count;
    }
    if (*count > 0) {
      (*parts)->iov_base = static_cast<uint8_t*>((*parts)->iov_base) + left;
      (*parts)->iov_len -= left;
    }
  }
  return Io::kDone;
}

// Reads exactly `size` bytes, blocking or (with a deadline) polling as WriteAll writes.
// With `some`, returns as soon as at least one byte has arrived.
Io ReadAll(int fd, uint8_t* out, size_t size, Clock::time_point deadline, size_t* got,
           bool some = false) {
  const bool bounded = deadline != Clock::time_point::max();
  while (*got < size) {
    const ssize_t n = recv(fd, out + *got, size - *got, bounded ? MSG_DONTWAIT : 0);
    if (n > 0) {
      *got += static_cast<size_t>(n);
      if (some) return Io::kDone;
      continue;
    }
    if (n == 0) return Io::kClosed;
    if (errno == EINTR) continue;
    if (bounded && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (Io ready = AwaitReady(fd, POLLIN, deadline); ready != Io::kDone) return ready;
      continue;
    }
    return errno == ECONNRESET ? Io::kClosed : Io::kError;
  }
  return Io::kDone;
}

}  // namespace

Result<std::unique_ptr<SocketLink>> SocketLink::Adopt(Fd socket, SocketLinkOptions options) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (getsockname(socket.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return Status::Unavailable(std::string("getsockname: ") + std::strerror(errno));
  }
  const int family = address.ss_family;
  const bool tcp = family == AF_INET || family == AF_INET6;
  if (tcp) {
    const int one = 1;  // calls are small frames answered at once: no Nagle delay
    setsockopt(socket.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    // A peer host that vanishes (no FIN, no RST) must not hold a connection for ever: probe
    // an idle connection after 10 s, drop it after 3 unanswered probes 5 s apart, and drop a
    // connection whose sent data stays unacknowledged for 30 s.
    const int idle = 10, interval = 5, probes = 3;
    const unsigned int user_timeout_ms = 30000;
    setsockopt(socket.get(), SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(socket.get(), IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(socket.get(), IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
    setsockopt(socket.get(), IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes));
    setsockopt(socket.get(), IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms,
               sizeof(user_timeout_ms));
  }
  try {
    return std::unique_ptr<SocketLink>(new SocketLink(
        asio::generic::stream_protocol(family, tcp ? IPPROTO_TCP : 0), std::move(socket), tcp,
        std::move(options)));
  } catch (const boost::system::system_error& e) {
    return Status::Unavailable(std::string("cannot adopt the socket: ") + e.what());
  }
}

SocketLink::SocketLink(asio::generic::stream_protocol protocol, Fd socket, bool tcp,
                       SocketLinkOptions options)
    : socket_(io_, protocol, socket.get()),
      fd_(socket.get()),
      tcp_(tcp),
      options_(std::move(options)),
      pool_(options_.pool ? options_.pool : BufferPool::Create()) {
  socket.Release();  // owned by socket_ now
}

SocketLink::~SocketLink() {
  Shutdown();  // ends a frame still being finished in the background
  if (finisher_.joinable()) finisher_.join();
}

namespace {

// A frame's 4-byte little-endian length.
std::array<uint8_t, 4> EncodeLength(uint32_t n) {
  return {static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n >> 16),
          static_cast<uint8_t>(n >> 24)};
}

// Clears a flag when the scope ends (if given one).
class ClearOnExit {
 public:
  explicit ClearOnExit(std::atomic<bool>* flag) : flag_(flag) {}
  ClearOnExit(const ClearOnExit&) = delete;
  ClearOnExit& operator=(const ClearOnExit&) = delete;
  ~ClearOnExit() {
    if (flag_ != nullptr) flag_->store(false, std::memory_order_relaxed);
  }

 private:
  std::atomic<bool>* flag_;
};

// How writing a batch went: the bytes written and those left when it stopped.
struct BatchWrite {
  Io io;
  size_t written = 0;
  size_t unsent = 0;
};

// Writes `batch`, waiting for room no longer than `deadline`.
BatchWrite WriteBatch(int fd, std::vector<uint8_t>& batch, Clock::time_point deadline) {
  iovec part{batch.data(), batch.size()};
  iovec* parts = &part;
  int count = 1;
  BatchWrite result{Io::kDone};
  result.io = WriteAll(fd, &parts, &count, deadline, &result.written);
  result.unsent = count > 0 ? part.iov_len : 0;
  return result;
}

uint32_t DecodeLength(const uint8_t* bytes) {
  return static_cast<uint32_t>(bytes[0]) | static_cast<uint32_t>(bytes[1]) << 8 |
         static_cast<uint32_t>(bytes[2]) << 16 | static_cast<uint32_t>(bytes[3]) << 24;
}

}  // namespace

Status SocketLink::Send(std::span<const Part> parts, Clock::time_point deadline) {
  uint64_t total = 0;
  for (const Part& part : parts) total += part.size();
  if (total > UINT32_MAX) return Status::ResourceExhausted("frame over 4 GiB");
  std::array<uint8_t, 4> length = EncodeLength(static_cast<uint32_t>(total));
  // iov[0] is for the batch, if any goes along.
  iovec iov[9];
  int count = 1;
  iov[count++] = {length.data(), length.size()};
  for (const Part& part : parts) {
    if (part.empty()) continue;
    if (count == 9) return Status::Internal("a frame of more than 7 parts");
    iov[count++] = {const_cast<uint8_t*>(part.data()), part.size()};
  }
  if (!send_gate_.Enter(deadline)) {
    return Status::DeadlineExceeded("another frame was still being sent at the deadline");
  }
  SendTurn turn(send_gate_);
  if (shut_down_.load(std::memory_order_acquire)) return Status::Unavailable("link shut down");
  iovec* remaining = iov + 1;
  --count;
  if (!batch_.empty()) {
    if (deadline != Clock::time_point::max()) {
      // The batch goes first, and this frame's deadline bounds the wait for room for it too.
      if (Status flushed = FlushBy(deadline, turn); !flushed.ok()) return flushed;
    } else {  // one system call for both
      iov[0] = {batch_.data(), batch_.size()};
      remaining = iov;
      ++count;
    }
  }
  const size_t frame_bytes = total + length.size() + (remaining == iov ? batch_.size() : 0);
  size_t written = 0;
  const Io io = WriteAll(socket_.native_handle(), &remaining, &count, deadline, &written);
  bytes_copied_.fetch_add(written, std::memory_order_relaxed);
  batch_.clear();  // gone along (a bounded send flushed it first)
  batched_.store(false, std::memory_order_relaxed);
  if (io == Io::kDone) return Status::Ok();
  if (io == Io::kDeadline && written == 0) {
    return Status::DeadlineExceeded("no room to send before the deadline");
  }
  if (io == Io::kDeadline && options_.finish_frames_inline) {
    size_t rest = 0;
    for (int i = 0; i < count; ++i) rest += remaining[i].iov_len;
    size_t more = 0;
    const Io finished =
        WriteAll(socket_.native_handle(), &remaining, &count, FrameDeadline(rest), &more);
    bytes_copied_.fetch_add(more, std::memory_order_relaxed);
    if (finished == Io::kDone) return Status::Ok();  // late, but whole
    turn.Leave();
    Shutdown();
    return Status::Unavailable("a frame was not whole within its frame time");
  }
  if (io == Io::kDeadline) {
    FinishInBackground(std::span(remaining, static_cast<size_t>(count)), turn.Release());
    return Status::DeadlineExceeded("the deadline passed with " + std::to_string(written) +
                                    " of " + std::to_string(frame_bytes) +
                                    " frame bytes sent; the rest goes out without the caller");
  }
  turn.Leave();
  Shutdown();  // a frame cut short: the peer could not find the next one
  return Status::Unavailable(std::string("send: ") + (io == Io::kClosed
                                                          ? "peer closed the connection"
                                                          : std::strerror(errno)));
}

Status SocketLink::SendBatched(std::span<const Part> parts, Clock::time_point deadline) {
  uint64_t total = sizeof(uint32_t);
  for (const Part& part : parts) total += part.size();
  if (total <= kBatchFrameBytes) {
    if (!send_gate_.Enter(deadline)) {
      return Status::DeadlineExceeded("another frame was still being sent at the deadline");
    }
    SendTurn turn(send_gate_);
    if (shut_down_.load(std::memory_order_acquire)) return Status::Unavailable("link shut down");
    if (batch_.size() + total <= kBatchBytes) {
      const std::array<uint8_t, 4> length =
          EncodeLength(static_cast<uint32_t>(total - sizeof(uint32_t)));
      batch_.insert(batch_.end(), length.begin(), length.end());
      for (const Part& part : parts) batch_.insert(batch_.end(), part.begin(), part.end());
      bytes_copied_.fetch_add(total, std::memory_order_relaxed);  // the copy into the batch
      batched_.store(true, std::memory_order_seq_cst);
      turn.Leave();
      // A receiver that waits already (or is about to, and found the turn taken) sends it.
      if (receiving_.load(std::memory_order_seq_cst)) Flush();
      return Status::Ok();
    }
  }
  return Send(parts, deadline);  // the batch goes out with it
}

void SocketLink::Flush() {
  if (!batched_.load(std::memory_order_seq_cst)) return;
  // A sender holding the turn took the batch along: frames join the batch only in turn.
  if (!send_gate_.TryEnter()) return;
  SendTurn turn(send_gate_);
  if (shut_down_.load(std::memory_order_acquire) || FlushLocked()) return;
  turn.Leave();
  Shutdown();
}

bool SocketLink::FlushLocked() {
  if (batch_.empty()) return true;
  const BatchWrite wrote =
      WriteBatch(socket_.native_handle(), batch_, FrameDeadline(batch_.size()));
  bytes_copied_.fetch_add(wrote.written, std::memory_order_relaxed);
  batch_.clear();
  batched_.store(false, std::memory_order_relaxed);
  return wrote.io == Io::kDone;
}

Status SocketLink::FlushBy(Clock::time_point deadline, SendTurn& turn) {
  const BatchWrite wrote = WriteBatch(socket_.native_handle(), batch_, deadline);
  const Io io = wrote.io;
  bytes_copied_.fetch_add(wrote.written, std::memory_order_relaxed);
  if (io == Io::kDeadline && wrote.written == 0) {
    return Status::DeadlineExceeded("no room to send before the deadline");
  }
  // What is left of a batch cut short by the deadline must still go, whole frames only: it is
  // copied out (the batch takes new frames once the turn is free) and finished as a frame is.
  std::vector<uint8_t> rest;
  if (io == Io::kDeadline) {
    rest.assign(batch_.end() - static_cast<ptrdiff_t>(wrote.unsent), batch_.end());
  }
  batch_.clear();
  batched_.store(false, std::memory_order_relaxed);
  if (io == Io::kDone) return Status::Ok();
  if (io == Io::kDeadline && options_.finish_frames_inline) {
    iovec left{rest.data(), rest.size()};
    iovec* lefts = &left;
    int left_count = 1;
    size_t more = 0;
    const Io finished =
        WriteAll(socket_.native_handle(), &lefts, &left_count, FrameDeadline(rest.size()), &more);
    bytes_copied_.fetch_add(more, std::memory_order_relaxed);
    if (finished == Io::kDone) {
      return Status::DeadlineExceeded("the deadline passed while the frames before this one went");
    }
  } else if (io == Io::kDeadline) {
    const iovec left{rest.data(), rest.size()};
    FinishInBackground(std::span(&left, 1), turn.Release());
    return Status::DeadlineExceeded(
        "the deadline passed while the frames before this one went; they go on without the "
        "caller");
  }
  turn.Leave();
  Shutdown();  // a frame cut short: the peer could not find the next one
  return Status::Unavailable("send: the peer did not take the frames before this one");
}

bool SocketLink::FrameReady() const {
  const size_t ahead = ahead_end_ - ahead_begin_;
  if (ahead < sizeof(uint32_t)) return false;
  const uint32_t n = DecodeLength(ahead_.data() + ahead_begin_);
  // A length Receive refuses is an answer without waiting too.
  return ahead - sizeof(uint32_t) >= n || n == 0 || n > options_.max_frame_bytes;
}

void SocketLink::FinishInBackground(std::span<const iovec> rest, SendGate* gate) {
  // The caller's deadline passed with the frame partly out. Cutting it short would leave the
  // peer unable to find the next frame and end every other call on the link, so the rest is
  // copied (the caller's buffer goes away with its call; this is the rare path) and sent by a
  // thread of the link's own, which holds the send turn until the frame is whole or the
  // frame time runs out (then the link shuts down).
  std::vector<uint8_t> bytes;
  for (const iovec& part : rest) {
    const auto* base = static_cast<const uint8_t*>(part.iov_base);
    bytes.insert(bytes.end(), base, base + part.iov_len);
  }
  bytes_copied_.fetch_add(bytes.size(), std::memory_order_relaxed);
  if (finisher_.joinable()) finisher_.join();  // done: it left the turn we now hold
  auto finish = [this, gate](std::vector<uint8_t> tail) {
    iovec part{tail.data(), tail.size()};
    iovec* parts = &part;
    int count = 1;
    size_t written = 0;
    const Io io = WriteAll(socket_.native_handle(), &parts, &count, FrameDeadline(tail.size()),
                           &written);
    bytes_copied_.fetch_add(written, std::memory_order_relaxed);
    gate->Leave();
    if (io != Io::kDone) Shutdown();
  };
  try {
    finisher_ = std::thread(finish, std::move(bytes));
  } catch (const std::system_error&) {
    finish(std::move(bytes));  // no thread to spare: the caller waits for the frame instead
  }
}

Clock::time_point SocketLink::FrameDeadline(uint64_t size) const {
  if (options_.frame_timeout.count() <= 0) return Clock::time_point::max();
  auto allowed = std::chrono::duration_cast<Clock::duration>(options_.frame_timeout);
  if (options_.min_frame_bytes_per_second > 0) {
    allowed += std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(static_cast<double>(size) /
                                      static_cast<double>(options_.min_frame_bytes_per_second)));
  }
  return Clock::now() + allowed;
}

Result<PooledBuffer> SocketLink::TakeFrameBuffer(uint32_t size, Clock::time_point deadline) {
  // Waits in slices, so that a peer that hangs up meanwhile frees its connection at once.
  constexpr auto kSlice = std::chrono::milliseconds(250);
  for (;;) {
    const Clock::time_point now = Clock::now();
    const Clock::time_point until = deadline - now > kSlice ? now + kSlice : deadline;
    Result<PooledBuffer> buffer = pool_->TakeCharged(size, until, &shut_down_);
    // Done unless the slice ran out waiting (a failure before it is final: no memory at all,
    // or a frame larger than the whole budget).
    if (buffer.ok() || buffer.status().code() != StatusCode::kResourceExhausted ||
        until == deadline || Clock::now() < until) {
      return buffer;
    }
    if (PeerHungUp(socket_.native_handle())) {
      return Status::Unavailable("peer closed the connection while its frame waited for memory");
    }
  }
}

Result<PooledBuffer> SocketLink::Receive(Clock::time_point deadline) {
  const int fd = socket_.native_handle();
  // Frames batched before we may wait go now; those batched while we wait go at once.
  const bool may_wait = !FrameReady();
  if (may_wait) {
    receiving_.store(true, std::memory_order_seq_cst);
    Flush();
  }
  const ClearOnExit receiving(may_wait ? &receiving_ : nullptr);
  if (ahead_.empty()) ahead_.resize(kReadAheadBytes);
  if (ahead_begin_ == ahead_end_) {
    ahead_begin_ = ahead_end_ = 0;
    // Waiting for a frame to begin: the pool's large idle buffers age out meanwhile (a blocking
    // read when there are none, the fastest path).
    Io io;
    for (;;) {
      const Clock::time_point trim = pool_->next_trim();
      io = ReadAll(fd, ahead_.data(), ahead_.size(), std::min(deadline, trim), &ahead_end_,
                   /*some=*/true);
      if (io != Io::kDeadline || Clock::now() >= deadline) break;
      pool_->Trim();
    }
    bytes_copied_.fetch_add(ahead_end_, std::memory_order_relaxed);
    if (io == Io::kDeadline) return Status::DeadlineExceeded("no frame before the deadline");
    if (io != Io::kDone) return Status::Unavailable("peer closed the connection");
  }
  // `deadline` bounds only the wait for a frame to begin (a caller's deadline, the server's
  // idle timeout): cutting a frame short would end every other call on the link. The frame
  // itself then has its own time (frame_timeout), if any.
  const auto too_slow = [&](uint64_t size, size_t arrived) {
    Shutdown();
    return Status::DataLoss("a frame of " + std::to_string(size) + " bytes was not whole in " +
                            std::to_string(options_.frame_timeout.count()) + " ms + " +
                            std::to_string(options_.min_frame_bytes_per_second) +
                            " bytes/s (" + std::to_string(arrived) + " arrived); link closed");
  };
  constexpr size_t kLengthBytes = 4;
  if (ahead_end_ - ahead_begin_ < kLengthBytes) {
    // Part of the length came with the last read: the few bytes move to the front, and the
    // rest is read after them.
    std::memmove(ahead_.data(), ahead_.data() + ahead_begin_, ahead_end_ - ahead_begin_);
    ahead_end_ -= ahead_begin_;
    ahead_begin_ = 0;
    const Clock::time_point frame_deadline = FrameDeadline(kLengthBytes);
    while (ahead_end_ < kLengthBytes) {
      const size_t before = ahead_end_;
      const Io io = ReadAll(fd, ahead_.data(), ahead_.size(), frame_deadline, &ahead_end_,
                            /*some=*/true);
      bytes_copied_.fetch_add(ahead_end_ - before, std::memory_order_relaxed);
      if (io == Io::kDeadline) return too_slow(kLengthBytes, ahead_end_);
      if (io != Io::kDone) return Status::DataLoss("truncated frame length");
    }
  }
  const uint32_t n = DecodeLength(ahead_.data() + ahead_begin_);
  if (n == 0 || n > options_.max_frame_bytes) {
    return Status::DataLoss("frame of " + std::to_string(n) + " bytes (the limit is " +
                            std::to_string(options_.max_frame_bytes) + ")");
  }
  ahead_begin_ += kLengthBytes;
  Result<PooledBuffer> frame = TakeFrameBuffer(n, FrameDeadline(n));
  if (!frame.ok()) {
    Shutdown();  // the length is consumed: the stream cannot go on without this frame
    return frame.status();
  }
  // What arrived with earlier reads is copied; the rest of a long frame is read in place.
  size_t read = std::min<size_t>(n, ahead_end_ - ahead_begin_);
  std::memcpy(frame->data(), ahead_.data() + ahead_begin_, read);
  ahead_begin_ += read;
  bytes_copied_.fetch_add(read, std::memory_order_relaxed);
  if (read < n) {
    // The peer's clock starts once the server is ready to read: waiting for memory is not
    // its fault.
    const size_t before = read;
    const Io io = ReadAll(fd, frame->data(), n, FrameDeadline(n), &read);
    bytes_copied_.fetch_add(read - before, std::memory_order_relaxed);
    if (io == Io::kDeadline) return too_slow(n, read);
    if (io != Io::kDone) {
      return Status::DataLoss("truncated frame: " + std::to_string(read) + " of " +
                              std::to_string(n) + " bytes");
    }
  }
  return frame;
}

void SocketLink::CloseWrites() {
  if (!send_gate_.Enter(std::chrono::steady_clock::time_point::max())) return;
  SendTurn turn(send_gate_);
  if (!shut_down_.load(std::memory_order_acquire)) (void)FlushLocked();
  ::shutdown(socket_.native_handle(), SHUT_WR);
}

bool SocketLink::PeerGone() const {
  pollfd probe{.fd = fd_, .events = POLLRDHUP, .revents = 0};
  return ::poll(&probe, 1, 0) == 1 && (probe.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

void SocketLink::Shutdown() {
  if (shut_down_.exchange(true, std::memory_order_acq_rel)) return;
  // The native call, not socket_.shutdown(): another thread may be inside a read on socket_.
  ::shutdown(socket_.native_handle(), SHUT_RDWR);
  pool_->WakeWaiters();  // a Receive waiting for memory gives up
}

}  // namespace ferry::internal
