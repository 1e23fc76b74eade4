// The schema check (protocol.fbs, SchemaCheck): before its first call of a method on a
// connection, a client sends the method's name, kind and message layout to the reserved method
// "ferry.Schema.Check"; the server answers whether it can serve that client.
#pragma once

#include <cstddef>
#include <cstdint>

#include "call/dispatch.h"
#include "ferry/message.h"
#include "ferry/service.h"
#include "ferry/status.h"

namespace ferry::internal {

// fnv1a32("ferry.Schema.Check"): no user method can have it (ferryc refuses the namespace).
inline constexpr uint32_t kSchemaCheckMethodId = 0x7abfb1aaU;

// Client: builds the check's request for `method` (called as `kind`) into `message`.
void BuildSchemaCheck(const MethodSignature& method, MethodKind kind, OutgoingMessage& message);

// Server: the verdict on a check's request (of `size` bytes): OK, UNIMPLEMENTED (no such
// method here), FAILED_PRECONDITION (another kind, or layouts that cannot be exchanged; the
// message names the method, both type names and the first difference) or INVALID_ARGUMENT
// (not a check).
Status JudgeSchemaCheck(const MethodTable& methods, const uint8_t* request, size_t size);

}  // namespace ferry::internal
