// Endpoint strings ("shm://name") and the private runtime dir their sockets live in.
#pragma once

#include <string>
#include <string_view>

#include "ferry/result.h"

namespace ferry::internal {

struct Endpoint {
  std::string scheme;       // "shm"
  std::string name;         // "calc"
  std::string socket_path;  // <runtime dir>/calc.sock
};

// INVALID_ARGUMENT for an unknown scheme or a name that is empty, too long or holds
// characters other than [A-Za-z0-9._-]; UNAVAILABLE when the runtime dir cannot be made safe.
Result<Endpoint> ParseEndpoint(std::string_view text);

// $FERRY_RUNTIME_DIR, else $XDG_RUNTIME_DIR/ferry, else /tmp/ferry-<uid>: created mode 0700
// if missing; refused (UNAVAILABLE) when owned by another user or open to others.
Result<std::string> RuntimeDir();

}  // namespace ferry::internal
