// Turning per-call times into a case's result, and printing results: one JSON line per case
// (stdout) and a human table with the bars (stderr).
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace ferry_bench {

struct CaseResult {
  std::string transport;  // "shm", "unix", "tcp", "tcp_upgraded", "raw_spin", "raw_uds", ...
  std::string placement;  // "cross_cpu", "same_cpu"
  size_t payload = 0;     // bytes
  uint64_t iters = 0;
  double p50_us = 0;
  double p99_us = 0;
  double calls_per_s = 0;  // iters / the sum of the timed parts
  double mb_per_s = 0;     // payload bytes per second, in 10^6
  uint64_t bytes_copied = 0;  // payload bytes copied over all `iters` calls
};

// A throughput case: a stream of messages, or unary calls made back to back or kept in flight.
struct RateResult {
  std::string kind;       // "server_stream", "client_stream", "bidi_stream", "sync_unary",
                          // "async_unary"
  std::string transport;
  std::string placement;
  size_t payload = 0;     // bytes per message (per request for the unary kinds)
  uint32_t in_flight = 0;  // async_unary: calls kept open at once; else 0 (not printed)
  uint64_t iters = 0;     // messages (streams) or calls (unary) in the timed part
  double seconds = 0;     // the timed part
  bool counts_copies = false;   // streams: bytes_copied is meaningful (printed)
  uint64_t bytes_copied = 0;    // client's and server's, over all `iters` messages
  // Streams: messages the server wrote that the client never got, though the stream ended
  // OK (a runtime fault; the tail of the stream). Not in `iters`.
  uint64_t lost = 0;

  double per_s() const { return seconds > 0 ? static_cast<double>(iters) / seconds : 0; }
};

// A paced case: 64 B unary calls made at a fixed rate, and the CPU time each process spent.
struct PacedResult {
  std::string transport;  // "shm", "raw_futex"
  std::string placement;
  size_t payload = 0;     // bytes per request
  uint32_t rate_hz = 0;   // slots per second
  uint64_t iters = 0;     // calls made in the measured window
  uint64_t skipped = 0;   // slots passed over: the call before ended after they were over
  double seconds = 0;     // the measured window: every slot's period, the last one's included
  double p50_us = 0;      // of the calls' timed parts
  double p99_us = 0;
  // Each process's CPU time over the window (CLOCK_PROCESS_CPUTIME_ID, every thread, read by
  // that process itself) over `iters`.
  double server_cpu_us_per_call = 0;
  double client_cpu_us_per_call = 0;
};

// `times_ns`: the timed part of each call (reordered by this function).
CaseResult Summarize(std::string transport, std::string placement, size_t payload,
                     std::vector<int64_t>& times_ns, uint64_t bytes_copied);

// {"transport":..,"placement":..,"payload":..,"iters":..,"p50_us":..,"p99_us":..,
//  "calls_per_s":..,"mb_per_s":..,"bytes_copied_per_call":..}
std::string ToJson(const CaseResult& result);

// Streams: {"case":..,"transport":..,"placement":..,"payload":..,"iters":..,"msgs_per_s":..,
//           "mb_per_s":..,"bytes_copied_per_msg":..[,"lost_at_end":..]} (lost_at_end: only
//           when not 0)
// Unary:   {"case":"sync_unary"|"async_unary","transport":..,"placement":..,"payload":..,
//           ["in_flight":..,]"iters":..,"calls_per_s":..}
std::string ToJson(const RateResult& result);

// {"case":"paced","transport":..,"placement":..,"payload":..,"rate_hz":..,"iters":..,
//  "seconds":..,"p50_us":..,"p99_us":..,"server_cpu_us_per_call":..,
//  "client_cpu_us_per_call":..[,"skipped_slots":..]} (skipped_slots: only when not 0)
std::string ToJson(const PacedResult& result);

// p50 of every transport per placement and payload, the ratios the bars are about, and one
// PASS/FAIL line per bar. Informative only.
void PrintTable(std::ostream& out, const std::vector<CaseResult>& results);

// Messages (calls) per second of every transport per placement, kind and payload (in_flight),
// bytes copied per stream message, and the PASS/FAIL lines of the stream and async bars.
void PrintRateTable(std::ostream& out, const std::vector<RateResult>& results);

// Server and client CPU per paced call, per placement and rate, shm next to raw_futex, and
// the PASS/FAIL lines of the paced bars (at 1 kHz). Prints nothing when no case ran.
void PrintPacedTable(std::ostream& out, const std::vector<PacedResult>& results);

}  // namespace ferry_bench
