// The public client API (Channel, Connect) and the calls generated code makes through it.
#include "ferry/channel.h"

#include "api/transports.h"
#include "call/client_engine.h"
#include "call/endpoint.h"
#include "ferry/generated_support.h"

namespace ferry {
namespace internal {

// Channel's private parts, for the functions below and Connect.
struct ChannelAccess {
  static Channel Make(std::shared_ptr<ClientEngine> engine) { return Channel(std::move(engine)); }
  static ClientEngine& Engine(const Channel& channel) { return *channel.engine_; }
};

}  // namespace internal

Channel::Channel(std::shared_ptr<internal::ClientEngine> engine) : engine_(std::move(engine)) {}

std::string_view Channel::transport() const { return engine_->name(); }
std::string_view Channel::endpoint() const { return engine_->endpoint(); }
bool Channel::connected() const { return engine_->connected(); }
uint64_t Channel::bytes_copied() const { return engine_->bytes_copied(); }

Result<Channel> Connect(std::string_view text, const ConnectOptions& options) {
  Result<internal::Endpoint> endpoint = internal::ParseEndpoint(text);
  if (!endpoint.ok()) return endpoint.status();
  Result<std::shared_ptr<internal::MessageLink>> link =
      internal::ConnectTransport(*endpoint, options);
  if (!link.ok()) return link.status();
  return internal::ChannelAccess::Make(
      internal::ClientEngine::Start(std::move(*link), std::string(text), options));
}

namespace internal {

OutgoingMessage NewMessage(const Channel& channel, size_t size_hint) {
  return ChannelAccess::Engine(channel).NewMessage(size_hint);
}

namespace {
// A signature without a layout is not checked (see Call in generated_support.h).
const MethodSignature* Checked(const MethodSignature& method) {
  return method.layout.empty() ? nullptr : &method;
}
}  // namespace

Result<IncomingMessage> Call(const Channel& channel, const MethodSignature& method,
                             MethodKind kind, OutgoingMessage request, const CallOptions& options) {
  return ChannelAccess::Engine(channel).Call(method.id, kind, std::move(request), options,
                                             Checked(method));
}

ClientCallHandle OpenCall(const Channel& channel, const MethodSignature& method, MethodKind kind,
                          OutgoingMessage* request, const CallOptions& options) {
  return ClientCallHandle(
      ChannelAccess::Engine(channel).Open(method.id, kind, request, options, Checked(method)));
}

}  // namespace internal
}  // namespace ferry
