// The main loop of the helper servers tests and ferry_bench start as child processes.
#pragma once

#include <chrono>
#include <signal.h>

#include <string>

#include "ferry/server.h"

namespace ferry::testing {

// Blocks SIGINT and SIGTERM in the calling thread; call it before any thread exists, so that
// every thread inherits the mask and the signals reach only ServeUntilStopSignal's waiter.
sigset_t BlockStopSignals();

// Listens on `endpoint`, prints "ready <endpoint as bound>" on stdout (the parent waits for
// that line; a tcp port 0 appears as the port picked), serves
// until a signal in `stop` arrives, then shuts the server down (letting calls in flight finish
// for up to `drain`). Returns the exit status: 0, or 1 (with the reason on stderr, prefixed by
// `who`) when Listen fails.
int ServeUntilStopSignal(Server& server, const std::string& endpoint, const sigset_t& stop,
                         const std::string& who,
                         std::chrono::milliseconds drain = std::chrono::milliseconds(0));

}  // namespace ferry::testing
