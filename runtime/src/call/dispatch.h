// Running one inbound call against a server's method table, whatever transport carried it:
// method lookup, kind check, deadline check, the handler (which verifies the request), and
// every way a handler can fail turned into a Status.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "ferry/message.h"
#include "ferry/service.h"
#include "ferry/status.h"

namespace ferry::internal {

using MethodTable = std::unordered_map<uint32_t, const ServiceBinding::Method*>;

struct InboundCall {
  uint32_t method_id;
  uint8_t kind;  // ferry::MethodKind as the client sent it (unchecked)
  const uint8_t* request;
  size_t request_size;
  std::chrono::steady_clock::time_point deadline;  // time_point::max() for none
  bool (*cancelled)(const void*);                  // CallContext::Cancelled(); may be null
  const void* cancelled_arg;
};

// Returns the status the caller should see. On OK a unary handler has finished `reply` (a
// message in the transport's memory); oneway handlers leave it untouched.
Status Dispatch(const MethodTable& methods, const InboundCall& call, OutgoingMessage& reply);

}  // namespace ferry::internal
