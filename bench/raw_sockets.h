// The floors the socket transports are compared against: two processes doing a blocking
// ping-pong of the same bytes over a Unix stream socket (raw_uds) or loopback TCP (raw_tcp),
// with plain system calls: a u32 length and the payload one way, 8 bytes back.
#pragma once

#include <functional>
#include <string>

#include "stats.h"

namespace ferry_bench {

enum class RawSocketKind { kUds, kTcp };

const char* RawSocketName(RawSocketKind kind);

// Measures round trips at every payload size between this process (the client, already
// pinned by the caller) and a forked peer pinned to `peer_cpu`. Each result is passed to
// `report` as soon as its case is done.
void RunRawSocketCases(RawSocketKind kind, const std::string& placement, int peer_cpu,
                       double scale, const std::function<void(const CaseResult&)>& report);

}  // namespace ferry_bench
