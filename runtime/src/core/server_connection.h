// The server's end of one client connection: handshake, segment, handler workers, and the
// liveness watch that tears everything down when the client goes away.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/dispatch.h"
#include "core/unix_socket.h"
#include "ferry/options.h"
#include "ferry/service.h"
#include "shm/segment.h"

namespace ferry::internal {

// True on a thread that runs handlers of the server owning `methods` (where that server's
// Shutdown() must not wait for itself).
bool OnHandlerThreadOf(const MethodTable& methods);

class ServerConnection final : public std::enable_shared_from_this<ServerConnection> {
 public:
  // `methods` must outlive the connection. `on_finished` runs on the connection's own thread
  // when it has ended (for the server to reap it).
  ServerConnection(Fd socket, const MethodTable& methods, const ServerOptions& options,
                   std::function<void()> on_finished);
  ~ServerConnection();

  // Starts the connection's thread. False when no thread could be started (the client is then
  // disconnected).
  bool Start();
  // Asks the connection to end (disconnects the client); returns at once.
  void Stop();
  // Waits for the connection's thread.
  void Join();

  bool finished() const { return finished_.load(std::memory_order_acquire); }
  uint64_t bytes_copied() const { return bytes_copied_.load(std::memory_order_relaxed); }

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
  void Complete(uint32_t cell, const Status& status, OutgoingMessage* reply);
  void Publish(uint32_t cell, uint32_t code, uint32_t slot, uint32_t offset, uint32_t length);
  void RecycleCell(uint32_t cell);

  Fd socket_;
  const MethodTable& methods_;
  const ServerOptions options_;
  std::function<void()> on_finished_;
  std::shared_ptr<shm::Segment> segment_;
  std::atomic<bool> closed_{false};
  std::atomic<bool> finished_{false};
  std::atomic<uint64_t> bytes_copied_{0};
  std::vector<std::thread> workers_;
  std::thread thread_;
};

}  // namespace ferry::internal
