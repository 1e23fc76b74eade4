// Method lookup and handler invocation, shared by every transport's server side.
#include "call/dispatch.h"

#include <cstdio>
#include <exception>
#include <string>

#include "call/interceptor_chain.h"

namespace ferry::internal {
namespace {

std::string Hex(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08x", value);
  return text;
}

bool RepliesWithMessage(MethodKind kind) {
  return kind == MethodKind::kUnary || kind == MethodKind::kClientStreaming;
}

template <class Run>
Status Guarded(const ServiceBinding::Method& method, OutgoingMessage& reply, Run run) {
  try {
    Status status = run();
    if (status.ok() && RepliesWithMessage(method.kind) && !reply.finished() &&
        reply.allocator() != nullptr) {  // a deferred reply has been moved out
      return Status::Internal(method.name + " returned OK without finishing its reply");
    }
    return status;
  } catch (const std::exception& e) {
    return Status::Internal(method.name + " threw: " + e.what());
  } catch (...) {
    return Status::Internal(method.name + " threw a non-standard exception");
  }
}

}  // namespace

Resolution Resolve(const MethodTable& methods, uint32_t method_id, uint8_t kind,
                   const uint8_t* request, size_t request_size,
                   std::chrono::steady_clock::time_point deadline) {
  Resolution verdict;
  const auto found = methods.find(method_id);
  if (found == methods.end()) {
    verdict.refusal =
        Status::Unimplemented("no method with id " + Hex(method_id) + " on this server");
    verdict.client_error = true;
    return verdict;
  }
  const ServiceBinding::Method& method = *found->second;
  if (kind > static_cast<uint8_t>(MethodKind::kOneway) ||
      static_cast<MethodKind>(kind) != method.kind) {
    verdict.refusal = Status::FailedPrecondition(
        method.name + " is a " + std::string(MethodKindName(method.kind)) +
        " method here but the client called it as another kind (schemas differ?)");
    verdict.client_error = true;
    return verdict;
  }
  if (std::chrono::steady_clock::now() > deadline) {
    verdict.refusal = Status::DeadlineExceeded("deadline passed before dispatch");
    return verdict;
  }
  if (method.verify_request != nullptr &&
      (request == nullptr || !method.verify_request(request, request_size))) {
    verdict.refusal = Status::InvalidArgument(method.name + ": request of " +
                                              std::to_string(request_size) +
                                              " bytes failed FlatBuffers verification");
    verdict.client_error = true;
    return verdict;
  }
  verdict.method = &method;
  return verdict;
}

Status Intercepted(const std::vector<ServerInterceptor>* interceptors, CallContext& context,
                   const std::function<Status()>& run) {
  if (interceptors == nullptr) return run();
  return RunInterceptorChain(*interceptors, context, context.method(), run);
}

Status RunUnary(const ServiceBinding::Method& method, CallContext& context,
                const uint8_t* request, size_t request_size, OutgoingMessage& reply,
                ReplyDeferral* deferral) {
  if (!method.unary) {
    return Status::Unimplemented(method.name + " has no handler");
  }
  return Guarded(method, reply,
                 [&] { return method.unary(context, request, request_size, reply, deferral); });
}

Status RunStream(const ServiceBinding::Method& method, CallContext& context,
                 const uint8_t* request, size_t request_size, ServerStreamPort& stream,
                 OutgoingMessage& reply, ReplyDeferral* deferral) {
  if (!method.stream) {
    return Status::Unimplemented(method.name + " has no handler");
  }
  return Guarded(method, reply, [&] {
    return method.stream(context, request, request_size, stream, reply, deferral);
  });
}

}  // namespace ferry::internal
