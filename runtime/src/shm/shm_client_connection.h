// The client's end of a shared-memory connection: the handshake, calls through the request
// ring and call cells, and the liveness watch on the rendezvous socket.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "call/client_transport.h"
#include "os/unix_socket.h"
#include "ferry/message.h"
#include "ferry/options.h"
#include "ferry/result.h"
#include "ferry/service.h"
#include "shm/segment.h"

namespace ferry::internal {

class ShmClientConnection final : public ClientTransport,
                               public MessageOwner,
                               public std::enable_shared_from_this<ShmClientConnection> {
 public:
  // Runs the handshake with the server listening at `socket_path` (the rendezvous of
  // "shm://name", or a socket server's upgrade offer); `endpoint` is what the user asked for.
  // PERMISSION_DENIED when that server runs as another user.
  static Result<std::shared_ptr<ShmClientConnection>> Connect(const std::string& socket_path,
                                                              std::string_view endpoint,
                                                              const ConnectOptions& options,
                                                              Deadline deadline);
  // Closes the socket (the server then drops the connection) and joins the watcher.
  ~ShmClientConnection() override;

  std::string_view name() const override { return "shm"; }
  const std::string& endpoint() const override { return endpoint_; }
  bool connected() const override { return !closed_.load(std::memory_order_acquire); }
  uint64_t bytes_copied() const override { return bytes_copied_.load(std::memory_order_relaxed); }
  OutgoingMessage NewMessage(size_t size_hint) override;
  Result<IncomingMessage> Call(uint32_t method_id, MethodKind kind, OutgoingMessage request,
                               const CallOptions& options) override;
  void ReleaseMessage(uint64_t slot_id) override;

 private:
  ShmClientConnection(std::string endpoint, Fd socket, std::shared_ptr<shm::Segment> segment,
                   const ConnectOptions& options);

  // Blocks on the socket until the server goes away, then fails everything waiting.
  void WatchPeer();
  Result<uint32_t> AcquireCell(std::chrono::steady_clock::time_point deadline);
  void RecycleCell(uint32_t index);
  // Waits for the cell's outcome; on success the cell is DONE and ours to read.
  Status AwaitReply(uint32_t index, std::chrono::steady_clock::time_point deadline);
  Result<IncomingMessage> TakeReply(uint32_t index);

  const std::string endpoint_;
  Fd socket_;
  std::shared_ptr<shm::Segment> segment_;
  const ConnectOptions options_;
  std::atomic<bool> closed_{false};
  std::atomic<uint64_t> bytes_copied_{0};
  std::atomic<int> server_cpu_{-1};  // where the last handler ran: a spinning hint
  std::thread watcher_;
};

}  // namespace ferry::internal
