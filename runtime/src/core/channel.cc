// The public client API (Channel, Connect) and the calls generated code makes through it.
#include "ferry/channel.h"

#include "core/deadline.h"
#include "core/endpoint.h"
#include "mq/mq_transport.h"
#include "shm/shm_client_connection.h"
#include "socket/socket_connect.h"
#include "ferry/generated_support.h"

namespace ferry {

Channel::Channel(std::shared_ptr<internal::ClientTransport> transport)
    : transport_(std::move(transport)) {}

std::string_view Channel::transport() const { return transport_->name(); }
std::string_view Channel::endpoint() const { return transport_->endpoint(); }
bool Channel::connected() const { return transport_->connected(); }
uint64_t Channel::bytes_copied() const { return transport_->bytes_copied(); }

namespace {

Result<std::shared_ptr<internal::ClientTransport>> ConnectTransport(
    const internal::Endpoint& endpoint, const ConnectOptions& options) {
  switch (endpoint.scheme) {
    case internal::Scheme::kShm: {
      auto connection = internal::ShmClientConnection::Connect(
          endpoint.socket_path, endpoint.text, options,
          internal::DeadlineAfter(options.connect_timeout));
      if (!connection.ok()) return connection.status();
      return std::shared_ptr<internal::ClientTransport>(std::move(*connection));
    }
    case internal::Scheme::kUnix:
    case internal::Scheme::kTcp:
      return internal::ConnectSocket(endpoint, options);
    case internal::Scheme::kMq:
      return internal::ConnectMq(endpoint, options);
  }
  return Status::InvalidArgument("endpoint '" + endpoint.text + "': unknown scheme");
}

}  // namespace

Result<Channel> Connect(std::string_view text, const ConnectOptions& options) {
  Result<internal::Endpoint> endpoint = internal::ParseEndpoint(text);
  if (!endpoint.ok()) return endpoint.status();
  Result<std::shared_ptr<internal::ClientTransport>> transport =
      ConnectTransport(*endpoint, options);
  if (!transport.ok()) return transport.status();
  return Channel(std::move(*transport));
}

namespace internal {

OutgoingMessage NewMessage(Channel& channel, size_t size_hint) {
  return channel.transport_impl().NewMessage(size_hint);
}

Result<IncomingMessage> Call(Channel& channel, uint32_t method_id, MethodKind kind,
                             OutgoingMessage request, const CallOptions& options) {
  return channel.transport_impl().Call(method_id, kind, std::move(request), options);
}

}  // namespace internal
}  // namespace ferry
