// The public client API (Channel, Connect) and the calls generated code makes through it.
#include "ferry/channel.h"

#include <memory>
#include <optional>
#include <string>

#include "api/transports.h"
#include "call/client_engine.h"
#include "call/endpoint.h"
#include "call/interceptor_chain.h"
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

// `make` (which makes the call) inside the engine's interceptors, at most once: OK from an
// interceptor that never let the call be made is its bug, and so is a second `next`.
Status Intercepted(const ClientEngine& engine, const MethodSignature& method, MethodKind kind,
                   const CallOptions& options, const std::function<Status()>& make) {
  const ClientCallInfo info{method.full_name, kind, engine.endpoint(), options.deadline};
  bool made = false;
  Status status = RunInterceptorChain(engine.interceptors(), info, info.method, [&] {
    if (made) {
      return Status::Internal(std::string(info.method) +
                              ": a client interceptor called next twice");
    }
    made = true;
    return make();
  });
  if (status.ok() && !made) {
    return Status::Internal(std::string(info.method) +
                            ": a client interceptor returned OK without making the call");
  }
  return status;
}

}  // namespace

Result<IncomingMessage> Call(const Channel& channel, const MethodSignature& method,
                             MethodKind kind, OutgoingMessage request, const CallOptions& options) {
  ClientEngine& engine = ChannelAccess::Engine(channel);
  if (engine.interceptors().empty()) {
    return engine.Call(method.id, kind, std::move(request), options, Checked(method));
  }
  std::optional<Result<IncomingMessage>> result;
  Status status = Intercepted(engine, method, kind, options, [&] {
    result.emplace(engine.Call(method.id, kind, std::move(request), options, Checked(method)));
    return result->status();
  });
  // An error cannot turn into OK: there is no reply to give then.
  if (!status.ok() || !result->ok()) return status.ok() ? result->status() : status;
  return std::move(*result);
}

ClientCallHandle OpenCall(const Channel& channel, const MethodSignature& method, MethodKind kind,
                          OutgoingMessage* request, const CallOptions& options) {
  ClientEngine& engine = ChannelAccess::Engine(channel);
  if (engine.interceptors().empty()) {
    return ClientCallHandle(engine.Open(method.id, kind, request, options, Checked(method)));
  }
  std::shared_ptr<ClientCall> opened;
  Status status = Intercepted(engine, method, kind, options, [&] {
    opened = engine.Open(method.id, kind, request, options, Checked(method));
    return Status::Ok();
  });
  if (opened) {
    ClientCallHandle handle(std::move(opened));
    if (!status.ok()) handle.Fail(status);  // the interceptor changed its mind: cancelled
    return handle;
  }
  auto refused = std::make_shared<ClientCall>();  // never opened: ended with the refusal
  refused->kind = kind;
  refused->ended = true;
  refused->status = std::move(status);
  return ClientCallHandle(std::move(refused));
}

}  // namespace internal
}  // namespace ferry
