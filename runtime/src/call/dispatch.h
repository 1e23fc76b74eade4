// Running inbound calls against a server's method table, whatever transport carried them:
// method lookup, kind and request checks (a structured verdict, so rejected calls are logged
// from facts, not message text), and handlers with every way they can fail turned into a
// Status.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

#include "ferry/message.h"
#include "ferry/server.h"
#include "ferry/service.h"
#include "ferry/status.h"

namespace ferry::internal {

using MethodTable = std::unordered_map<uint32_t, const ServiceBinding::Method*>;

struct Resolution {
  const ServiceBinding::Method* method = nullptr;  // null when refused
  Status refusal;
  // The client sent what this server cannot serve (unknown method, wrong kind, a request that
  // fails verification): worth a log line. A passed deadline is not.
  bool client_error = false;
};

// Decides whether a call may run: its method, its kind as the client sent it, its deadline,
// and its request (`request`: null for client and bidi streaming, which open without one).
Resolution Resolve(const MethodTable& methods, uint32_t method_id, uint8_t kind,
                   const uint8_t* request, size_t request_size,
                   std::chrono::steady_clock::time_point deadline);

// `run` (the handler) inside `interceptors`, the first outermost; `run` alone when there are
// none. An interceptor that throws fails the call with INTERNAL, as a handler does.
Status Intercepted(const std::vector<ServerInterceptor>* interceptors, CallContext& context,
                   const std::function<Status()>& run);

// Runs a resolved unary or oneway method. On OK a unary handler has finished `reply` (unless
// it deferred it through `deferral`: then its status means nothing).
Status RunUnary(const ServiceBinding::Method& method, CallContext& context,
                const uint8_t* request, size_t request_size, OutgoingMessage& reply,
                ReplyDeferral* deferral);
// Runs a resolved streaming method. On OK a client-streaming handler has finished `reply`.
Status RunStream(const ServiceBinding::Method& method, CallContext& context,
                 const uint8_t* request, size_t request_size, ServerStreamPort& stream,
                 OutgoingMessage& reply, ReplyDeferral* deferral);

}  // namespace ferry::internal
