// Endpoint strings ("shm://name", "unix:///path", "tcp://host:port", "mq://name") and the
// private runtime dir that rendezvous sockets live in.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ferry/result.h"

namespace ferry::internal {

enum class Scheme { kShm, kUnix, kTcp, kMq };

struct Endpoint {
  Scheme scheme = Scheme::kShm;
  std::string text;         // as given
  std::string name;         // shm, mq: "calc"
  std::string socket_path;  // shm, mq: <runtime dir>/calc.sock (mq: calc.mq.sock); unix: the path
  std::string host;         // tcp: "127.0.0.1", "::1" (brackets removed), "localhost"
  uint16_t port = 0;        // tcp: 0 asks the server to pick a free port
};

// INVALID_ARGUMENT for an unknown scheme or a malformed address: shm and mq names are 1-64
// characters of [A-Za-z0-9._-] not starting with '.'; unix paths are absolute and shorter than
// 108 bytes; tcp wants host:port with IPv6 literals in brackets. UNAVAILABLE when the runtime
// dir (shm, mq) cannot be made safe.
Result<Endpoint> ParseEndpoint(std::string_view text);

// $FERRY_RUNTIME_DIR, else $XDG_RUNTIME_DIR/ferry, else /tmp/ferry-<uid>: created mode 0700
// if missing; refused (UNAVAILABLE) when owned by another user or open to others.
Result<std::string> RuntimeDir();

}  // namespace ferry::internal
