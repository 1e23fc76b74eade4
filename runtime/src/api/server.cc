// The public ferry::Server, a thin handle over ServerCore.
#include "ferry/server.h"

#include "api/server_core.h"

namespace ferry {

Server::Server(ServerOptions options)
    : core_(std::make_unique<internal::ServerCore>(std::move(options))) {}
Server::~Server() = default;

Status Server::Add(ServiceBinding binding) { return core_->Add(std::move(binding)); }
Status Server::Listen(std::string_view endpoint) { return core_->Listen(endpoint); }
Status Server::Intercept(ServerInterceptor interceptor) {
  return core_->Intercept(std::move(interceptor));
}
std::vector<std::string> Server::endpoints() const { return core_->endpoints(); }
void Server::Run() { core_->Run(); }
void Server::Shutdown() { core_->Shutdown(std::chrono::steady_clock::time_point::min()); }
void Server::Shutdown(std::chrono::steady_clock::time_point drain_until) {
  core_->Shutdown(drain_until);
}
size_t Server::connection_count() const { return core_->connection_count(); }
uint64_t Server::bytes_copied() const { return core_->bytes_copied(); }
std::vector<MethodStats> Server::method_stats() const { return core_->method_stats(); }

Status Server::SetServing(std::string_view service, bool serving) {
  return core_->SetServing(service, serving);
}

uint64_t MethodStats::LatencyBoundMicros(double fraction) const {
  if (calls == 0) return 0;
  const double wanted = fraction * static_cast<double>(calls);
  uint64_t seen = 0;
  for (const auto& [bound, count] : latency) {
    seen += count;
    if (static_cast<double>(seen) >= wanted) return bound;
  }
  return latency.empty() ? 0 : latency.back().first;
}

}  // namespace ferry
