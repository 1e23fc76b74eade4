// The throughput cases over a ferry channel to the bench server: streams of each kind at 64 B
// and 1 MiB per message, and 64 B unary calls made back to back (sync) or kept in flight
// (async, 1, 8 and 64 at once) from one client thread.
#pragma once

#include <functional>
#include <string>

#include "ferry/channel.h"
#include "stats.h"

namespace ferry_bench {

// server_stream, client_stream and bidi_stream at each payload: a short warm-up stream, whose
// rate sizes the measured one (about 0.8 s of messages, times `scale`).
void RunStreamCases(const ferry::Channel& channel, const std::string& transport,
                    const std::string& placement, double scale,
                    const std::function<void(const RateResult&)>& report);

// sync_unary, then async_unary with 1, 8 and 64 calls in flight (about 0.5 s each, times
// `scale`).
void RunUnaryRateCases(const ferry::Channel& channel, const std::string& transport,
                       const std::string& placement, double scale,
                       const std::function<void(const RateResult&)>& report);

}  // namespace ferry_bench
