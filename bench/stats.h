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

// A concurrency case: `callers` callers making 64 B unary calls back to back at the same
// time, for a fixed window; no CPU pinned ("placement":"any").
struct ConcurrencyResult {
  std::string transport;  // "shm", "unix", "raw_uds"
  std::string mode;       // "threads" (one channel shared), "processes" (a channel each)
  uint32_t callers = 0;
  size_t payload = 0;     // bytes per request
  uint64_t iters = 0;     // calls answered correctly, over every caller
  // The sum over callers of each one's answered calls over its own window (from its start
  // to the end of its last call).
  double calls_per_s = 0;
  double p50_us = 0;      // of the answered calls' timed parts, every caller's together
  double p99_us = 0;
  // Calls that failed (not OK, or a wrong reply), warm-up included, plus one for each caller
  // that never got to make its calls (could not connect, or never reported).
  uint64_t failed = 0;
  std::string first_error;  // why, for the table's notes (not in the JSON)
};

// A connections case: `clients` connections over shm to one fresh server, idle for a while,
// then one call on each.
struct ConnectionsResult {
  std::string transport;  // "shm"
  uint32_t clients = 0;   // connections attempted
  uint32_t connected = 0;
  // Of the server process, read from /proc after the idle window; -1: could not be read
  // (null in the JSON).
  int64_t server_threads = -1;
  int64_t server_rss_kb = -1;
  int64_t server_fds = -1;  // table only
  // The server's CPU time over the idle window (its own process clock, every thread) over
  // the window's wall time, in percent of one CPU; negative: not measured (no connection).
  double server_idle_cpu_pct = -1;
  double idle_seconds = 0;
  uint32_t answered = 0;    // connections whose one call after the window was answered
  // The client process holding every connection (table only).
  int64_t client_threads = -1;
  double connect_seconds = 0;  // connecting them all, one after another (table only)
  double close_seconds = -1;   // closing them all (table only; negative: not known)
  int cores = 0;               // CPUs the run may use, for the threads bar (not in the JSON)
  std::string note;            // the first failure, for the table's notes (not in the JSON)
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

// {"case":"concurrency","transport":..,"placement":"any","mode":..,"callers":..,
//  "payload":..,"iters":..,"calls_per_s":..,"p50_us":..,"p99_us":..,"failed":..}
std::string ToJson(const ConcurrencyResult& result);

// {"case":"connections","transport":"shm","placement":"any","clients":..,"connected":..,
//  "idle_s":..,"server_threads":..,"server_rss_kb":..,"server_idle_cpu_pct":..,
//  "answered":..} (a figure that could not be measured is null)
std::string ToJson(const ConnectionsResult& result);

// p50 of every transport per placement and payload, the ratios the bars are about, and one
// PASS/FAIL line per bar. Informative only.
void PrintTable(std::ostream& out, const std::vector<CaseResult>& results);

// Messages (calls) per second of every transport per placement, kind and payload (in_flight),
// bytes copied per stream message, and the PASS/FAIL lines of the stream and async bars.
void PrintRateTable(std::ostream& out, const std::vector<RateResult>& results);

// Server and client CPU per paced call, per placement and rate, shm next to raw_futex, and
// the PASS/FAIL lines of the paced bars (at 1 kHz). Prints nothing when no case ran.
void PrintPacedTable(std::ostream& out, const std::vector<PacedResult>& results);

// Calls per second (p50 / p99) per mode and caller count, shm, unix and raw_uds side by side,
// the failed calls, and the PASS/FAIL lines of the concurrency bars. Prints nothing when no
// case ran.
void PrintConcurrencyTable(std::ostream& out, const std::vector<ConcurrencyResult>& results);

// One row per client count (connected, the server's threads, RSS, descriptors and idle CPU,
// answered calls) and the PASS/FAIL lines of the connections bars. Prints nothing when no
// case ran.
void PrintConnectionsTable(std::ostream& out, const std::vector<ConnectionsResult>& results);

}  // namespace ferry_bench
