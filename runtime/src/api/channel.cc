// The public client API (Channel, Connect) and the calls generated code makes through it.
#include "ferry/channel.h"

#include "api/transports.h"
#include "call/endpoint.h"
#include "ferry/generated_support.h"

namespace ferry {

Channel::Channel(std::shared_ptr<internal::ClientTransport> transport)
    : transport_(std::move(transport)) {}

std::string_view Channel::transport() const { return transport_->name(); }
std::string_view Channel::endpoint() const { return transport_->endpoint(); }
bool Channel::connected() const { return transport_->connected(); }
uint64_t Channel::bytes_copied() const { return transport_->bytes_copied(); }


Result<Channel> Connect(std::string_view text, const ConnectOptions& options) {
  Result<internal::Endpoint> endpoint = internal::ParseEndpoint(text);
  if (!endpoint.ok()) return endpoint.status();
  Result<std::shared_ptr<internal::ClientTransport>> transport =
      internal::ConnectTransport(*endpoint, options);
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
