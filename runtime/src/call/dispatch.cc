// Method lookup and handler invocation, shared by every transport's server side.
#include "call/dispatch.h"

#include <cstdio>
#include <exception>
#include <string>

namespace ferry::internal {
namespace {

std::string Hex(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08x", value);
  return text;
}

}  // namespace

Status Dispatch(const MethodTable& methods, const InboundCall& call, OutgoingMessage& reply) {
  const auto found = methods.find(call.method_id);
  if (found == methods.end()) {
    return Status::Unimplemented("no method with id " + Hex(call.method_id) + " on this server");
  }
  const ServiceBinding::Method& method = *found->second;
  if (call.kind > static_cast<uint8_t>(MethodKind::kOneway) ||
      static_cast<MethodKind>(call.kind) != method.kind) {
    return Status::FailedPrecondition(method.name + " is a " +
                                      std::string(MethodKindName(method.kind)) +
                                      " method here but the client called it as another kind"
                                      " (schemas differ?)");
  }
  if (!method.handler) {
    return Status::Unimplemented(method.name + " is a " +
                                 std::string(MethodKindName(method.kind)) +
                                 " method; this ferry runtime does not serve streams yet");
  }
  if (std::chrono::steady_clock::now() > call.deadline) {
    return Status::DeadlineExceeded("deadline passed before dispatch");
  }
  CallContext context(method.name, call.deadline, call.cancelled, call.cancelled_arg);
  try {
    Status status = method.handler(context, call.request, call.request_size, reply);
    if (status.ok() && method.kind == MethodKind::kUnary && !reply.finished()) {
      return Status::Internal(method.name + " returned OK without finishing its reply");
    }
    return status;
  } catch (const std::exception& e) {
    return Status::Internal(method.name + " threw: " + e.what());
  } catch (...) {
    return Status::Internal(method.name + " threw a non-standard exception");
  }
}

}  // namespace ferry::internal
