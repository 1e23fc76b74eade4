// The public ferry::Server, a thin handle over ServerCore.
#include "ferry/server.h"

#include "api/server_core.h"

namespace ferry {

Server::Server(ServerOptions options)
    : core_(std::make_unique<internal::ServerCore>(std::move(options))) {}
Server::~Server() = default;

Status Server::Add(ServiceBinding binding) { return core_->Add(std::move(binding)); }
Status Server::Listen(std::string_view endpoint) { return core_->Listen(endpoint); }
std::vector<std::string> Server::endpoints() const { return core_->endpoints(); }
void Server::Run() { core_->Run(); }
void Server::Shutdown() { core_->Shutdown(std::chrono::steady_clock::time_point::min()); }
void Server::Shutdown(std::chrono::steady_clock::time_point drain_until) {
  core_->Shutdown(drain_until);
}
size_t Server::connection_count() const { return core_->connection_count(); }
uint64_t Server::bytes_copied() const { return core_->bytes_copied(); }

}  // namespace ferry
