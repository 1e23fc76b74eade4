// The server's end of one shared-memory connection: handshake, segment, handler workers, and
// the liveness watch that tears everything down when the client goes away.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "call/dispatch.h"
#include "os/log.h"
#include "call/server_connection.h"
#include "os/unix_socket.h"
#include "ferry/options.h"
#include "ferry/service.h"
#include "shm/segment.h"

namespace ferry::internal {

// Serves one shared-memory client: the handshake on its rendezvous socket, the segment,
// handler workers, and the liveness watch that tears everything down when the client goes.
class ShmServerConnection final : public ServerConnection,
                                  public std::enable_shared_from_this<ShmServerConnection> {
 public:
  ShmServerConnection(Fd socket, ConnectionEnv env);
  ~ShmServerConnection() override;

  bool Start() override;
  void Stop() override;
  void Join() override;
  bool finished() const override { return finished_.load(std::memory_order_acquire); }
  uint64_t bytes_copied() const override { return bytes_copied_.load(std::memory_order_relaxed); }

 private:
  void Serve();
  Status Handshake();
  void WorkLoop();
  enum class BuildingWait { kPopped, kNobodyBuilding, kGaveUp };
  // Spins while a client is building a request (bounded by kBuildingSpinLimit).
  template <class Pop>
  BuildingWait AwaitRequestBeingBuilt(Pop& pop, int client_cpu);
  void Handle(const shm::Descriptor& descriptor);
  // Handle() with a last line of defence: an exception (std::bad_alloc) fails the call with
  // INTERNAL instead of terminating the server.
  void HandleGuarded(const shm::Descriptor& descriptor);
  // Writes the call's outcome into its cell and wakes the client (or, for a cell the client
  // abandoned, frees the reply and recycles the cell).
  // `deadline` bounds the wait for a slot when the reply was built on the heap.
  void Complete(uint32_t cell, const Status& status, OutgoingMessage* reply,
                std::chrono::steady_clock::time_point deadline);
  void Publish(uint32_t cell, uint32_t code, uint32_t slot, uint32_t offset, uint32_t length);
  void RecycleCell(uint32_t cell);

  Fd socket_;
  const ConnectionEnv env_;
  const MethodTable& methods_;
  const ServerOptions& options_;
  std::shared_ptr<shm::Segment> segment_;
  std::atomic<bool> closed_{false};
  // What this client does wrong (forged descriptors, failing oneway calls) costs a few lines a
  // second, however fast it loops.
  LogLimiter peer_log_;
  std::atomic<bool> finished_{false};
  std::atomic<uint64_t> bytes_copied_{0};
  std::vector<std::thread> workers_;
  std::thread thread_;
};

// A connection for a client accepted on a shared-memory rendezvous (UnixListener's factory).
std::shared_ptr<ServerConnection> NewShmConnection(Fd client, ConnectionEnv env);

}  // namespace ferry::internal
