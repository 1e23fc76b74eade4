// Raw connections for tests that play a peer speaking no ferry protocol (silent, garbage).
#pragma once

#include <string>

namespace ferry::testing {

// A Unix stream socket connected to `path` (close-on-exec); -1 on failure. Only system calls:
// safe in a forked child.
int ConnectUnixRaw(const std::string& path);

}  // namespace ferry::testing
