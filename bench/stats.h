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

// `times_ns`: the timed part of each call (reordered by this function).
CaseResult Summarize(std::string transport, std::string placement, size_t payload,
                     std::vector<int64_t>& times_ns, uint64_t bytes_copied);

// {"transport":..,"placement":..,"payload":..,"iters":..,"p50_us":..,"p99_us":..,
//  "calls_per_s":..,"mb_per_s":..,"bytes_copied_per_call":..}
std::string ToJson(const CaseResult& result);

// p50 of every transport per placement and payload, the ratios the bars are about, and one
// PASS/FAIL line per bar. Informative only.
void PrintTable(std::ostream& out, const std::vector<CaseResult>& results);

}  // namespace ferry_bench
