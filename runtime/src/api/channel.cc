// The public client API (Channel, Connect) and the calls generated code makes through it.
#include "ferry/channel.h"

#include <memory>
#include <optional>
#include <string>

#include "api/transports.h"
#include "call/client_channel.h"
#include "call/client_engine.h"
#include "call/endpoint.h"
#include "call/interceptor_chain.h"
#include "ferry/generated_support.h"

namespace ferry {
namespace internal {

// Channel's private parts, for the functions below and Connect.
struct ChannelAccess {
  static Channel Make(std::shared_ptr<ClientChannel> core) { return Channel(std::move(core)); }
  static ClientChannel& Core(const Channel& channel) { return *channel.core_; }
};

}  // namespace internal

std::string_view ToString(ChannelState state) {
  switch (state) {
    case ChannelState::kReady:
      return "READY";
    case ChannelState::kIdle:
      return "IDLE";
    case ChannelState::kConnecting:
      return "CONNECTING";
    case ChannelState::kFailed:
      return "FAILED";
  }
  return "UNKNOWN";
}

Channel::Channel(std::shared_ptr<internal::ClientChannel> core) : core_(std::move(core)) {}

std::string_view Channel::transport() const { return core_->current()->name(); }
std::string_view Channel::endpoint() const { return core_->endpoint(); }
ChannelState Channel::state() const { return core_->state(); }
bool Channel::connected() const { return state() == ChannelState::kReady; }
uint64_t Channel::bytes_copied() const { return core_->bytes_copied(); }

Result<Channel> Connect(std::string_view text, const ConnectOptions& options) {
  Result<internal::Endpoint> endpoint = internal::ParseEndpoint(text);
  if (!endpoint.ok()) return endpoint.status();
  Result<std::shared_ptr<internal::MessageLink>> link =
      internal::ConnectTransport(*endpoint, options);
  if (!link.ok()) return link.status();
  auto engine = internal::ClientEngine::Start(std::move(*link), std::string(text), options);
  return internal::ChannelAccess::Make(std::make_shared<internal::ClientChannel>(
      std::move(engine), options, [endpoint = *std::move(endpoint)](const ConnectOptions& attempt) {
        return internal::ConnectTransport(endpoint, attempt);
      }));
}

namespace internal {

OutgoingMessage NewMessage(const Channel& channel, size_t size_hint) {
  return ChannelAccess::Core(channel).current()->NewMessage(size_hint);
}

namespace {
// A signature without a layout is not checked (see Call in generated_support.h).
const MethodSignature* Checked(const MethodSignature& method) {
  return method.layout.empty() ? nullptr : &method;
}

// `make` (which makes the call) inside the channel's interceptors, at most once: OK from an
// interceptor that never let the call be made is its bug, and so is a second `next`.
Status Intercepted(const ClientChannel& core, const MethodSignature& method, MethodKind kind,
                   const CallOptions& options, const std::function<Status()>& make) {
  const ClientCallInfo info{method.full_name, kind, core.endpoint(), options.deadline};
  bool made = false;
  Status status = RunInterceptorChain(core.options().interceptors, info, info.method, [&] {
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

// The call on the channel's connection (connecting again first if it was lost).
Result<IncomingMessage> CallOnce(ClientChannel& core, const MethodSignature& method,
                                 MethodKind kind, OutgoingMessage request, CallOptions options) {
  Result<std::shared_ptr<ClientEngine>> engine = core.ForCall(options);
  if (!engine.ok()) return engine.status();
  return (*engine)->Call(method.id, kind, (*engine)->Adopt(std::move(request)), options,
                         Checked(method));
}

// A call that ended before it was opened, with `status`.
std::shared_ptr<ClientCall> NeverOpened(MethodKind kind, Status status) {
  auto call = std::make_shared<ClientCall>();
  call->kind = kind;
  call->ended = true;
  call->status = std::move(status);
  return call;
}

std::shared_ptr<ClientCall> OpenOnce(ClientChannel& core, const MethodSignature& method,
                                     MethodKind kind, OutgoingMessage* request,
                                     CallOptions options) {
  Result<std::shared_ptr<ClientEngine>> engine = core.ForCall(options);
  if (!engine.ok()) return NeverOpened(kind, engine.status());
  if (request == nullptr)
    return (*engine)->Open(method.id, kind, nullptr, options, Checked(method));
  OutgoingMessage adopted = (*engine)->Adopt(std::move(*request));
  return (*engine)->Open(method.id, kind, &adopted, options, Checked(method));
}

}  // namespace

Result<IncomingMessage> Call(const Channel& channel, const MethodSignature& method, MethodKind kind,
                             OutgoingMessage request, const CallOptions& options) {
  ClientChannel& core = ChannelAccess::Core(channel);
  if (core.options().interceptors.empty()) {
    return CallOnce(core, method, kind, std::move(request), options);
  }
  std::optional<Result<IncomingMessage>> result;
  Status status = Intercepted(core, method, kind, options, [&] {
    result.emplace(CallOnce(core, method, kind, std::move(request), options));
    return result->status();
  });
  // An error cannot turn into OK: there is no reply to give then.
  if (!status.ok() || !result->ok()) return status.ok() ? result->status() : status;
  return std::move(*result);
}

ClientCallHandle OpenCall(const Channel& channel, const MethodSignature& method, MethodKind kind,
                          OutgoingMessage* request, const CallOptions& options) {
  ClientChannel& core = ChannelAccess::Core(channel);
  if (core.options().interceptors.empty()) {
    return ClientCallHandle(OpenOnce(core, method, kind, request, options));
  }
  std::shared_ptr<ClientCall> opened;
  Status status = Intercepted(core, method, kind, options, [&] {
    opened = OpenOnce(core, method, kind, request, options);
    return Status::Ok();
  });
  if (opened) {
    ClientCallHandle handle(std::move(opened));
    if (!status.ok()) handle.Fail(status);  // the interceptor changed its mind: cancelled
    return handle;
  }
  return ClientCallHandle(NeverOpened(kind, std::move(status)));  // refused by an interceptor
}

}  // namespace internal
}  // namespace ferry
