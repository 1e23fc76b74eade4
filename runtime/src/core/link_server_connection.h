// The server's end of one socket or queue connection: a handshake on the accepted socket,
// then a reader thread that queues request frames (bounded: past the bound it stops reading,
// which pushes back on the client) and worker threads that run handlers and send replies.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/frame_link.h"
#include "core/server_connection.h"
#include "core/unix_socket.h"

namespace ferry::internal {

class LinkServerConnection final : public ServerConnection,
                                   public std::enable_shared_from_this<LinkServerConnection> {
 public:
  // Runs the transport's handshake on the accepted socket (on the connection's thread, bounded
  // by the handshake timeout) and returns the link calls travel on.
  using OpenLink =
      std::function<Result<std::unique_ptr<FrameLink>>(int socket, const ConnectionEnv& env)>;

  LinkServerConnection(Fd socket, OpenLink open_link, ConnectionEnv env);
  ~LinkServerConnection() override;

  bool Start() override;
  void Stop() override;
  void Join() override;
  bool finished() const override { return finished_.load(std::memory_order_acquire); }
  uint64_t bytes_copied() const override { return bytes_copied_.load(std::memory_order_relaxed); }

 private:
  struct Request {
    PooledBuffer frame;
    uint64_t call_id;
    uint32_t method_id;
    uint8_t kind;
    size_t payload_offset;
    size_t payload_size;
    std::chrono::steady_clock::time_point deadline;
    std::atomic<bool> cancelled{false};
  };

  void Serve();
  // Reads frames until the client goes or breaks the protocol.
  void ReadLoop();
  void WorkLoop();
  void Handle(Request& request);
  void SendReply(uint64_t call_id, const Status& status, OutgoingMessage* reply);

  Fd socket_;
  OpenLink open_link_;
  const ConnectionEnv env_;
  std::atomic<bool> finished_{false};
  std::atomic<uint64_t> bytes_copied_{0};

  std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  std::unique_ptr<FrameLink> link_;  // set once the handshake is done
  std::deque<std::shared_ptr<Request>> queue_;
  // Queued and running calls, for Cancel frames.
  std::unordered_map<uint64_t, std::shared_ptr<Request>> active_;

  std::vector<std::thread> workers_;
  std::thread thread_;
};

}  // namespace ferry::internal
