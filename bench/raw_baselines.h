// The floor ferry is compared against: two processes handing a payload over through a shared
// mapping and one atomic word each way, with nothing else (no rings, slots, verification).
#pragma once

#include <functional>
#include <string>

#include "stats.h"

namespace ferry_bench {

enum class RawKind {
  kSpin,   // "raw_spin": both sides spin on the word
  kFutex,  // "raw_futex": every publish wakes the peer with FUTEX_WAKE; waiters FUTEX_WAIT
};

const char* RawTransportName(RawKind kind);

// Measures round trips at every payload size between this process (the client, already
// pinned by the caller) and a forked peer pinned to `peer_cpu`. `same_cpu` bounds raw_spin,
// which on one CPU hands over only when the scheduler preempts the spinner. Each result is
// passed to `report` as soon as its case is done.
void RunRawCases(RawKind kind, const std::string& placement, bool same_cpu, int peer_cpu,
                 double scale, const std::function<void(const CaseResult&)>& report);

// raw_futex paced as the ferry cases are (RunPacedCases: 64 B at 100 Hz and 1 kHz), against
// a forked peer pinned to `peer_cpu` that reads its own CPU clock into the shared mapping
// when asked, between the paced calls.
void RunRawPacedCases(const std::string& placement, int peer_cpu, double scale,
                      const std::function<void(const PacedResult&)>& report);

}  // namespace ferry_bench
