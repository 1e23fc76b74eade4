// ferry's built-in services (idl/ferry/reflection.idl), which a server adds beside its own
// unless ServerOptions turns them off: ferry.Reflection says what the server serves (services,
// methods, kinds, binary schemas, call counts), ferry.Health whether it serves it.
#pragma once

#include "ferry/service.h"

namespace ferry::internal {

class ServerCore;

// Each reads `core` on every call: `core` must outlive the server's connections (it does: its
// destructor joins them).
ServiceBinding ReflectionBinding(const ServerCore& core);
ServiceBinding HealthBinding(const ServerCore& core);

}  // namespace ferry::internal
