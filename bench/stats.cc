#include "stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <optional>
#include <utility>

namespace ferry_bench {
namespace {

// Nearest-rank percentile of sorted values.
int64_t Percentile(const std::vector<int64_t>& sorted, double p) {
  const auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

std::string Format(const char* format, double value) {
  char text[64];
  std::snprintf(text, sizeof(text), format, value);
  return text;
}

// Exact when it is a whole number (the expected 0), else three decimals.
std::string PerCall(uint64_t total, uint64_t calls) {
  if (calls == 0) return "0";
  if (total % calls == 0) return std::to_string(total / calls);
  return Format("%.3f", static_cast<double>(total) / static_cast<double>(calls));
}

std::string SizeName(size_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " B";
}

std::string Pad(std::string text, size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}

const CaseResult* Find(const std::vector<CaseResult>& results, const std::string& transport,
                       const std::string& placement, size_t payload) {
  for (const CaseResult& r : results) {
    if (r.transport == transport && r.placement == placement && r.payload == payload) return &r;
  }
  return nullptr;
}

// "PASS  <what>: a <= factor x b (ratio r)", or "n/a" when a case is missing.
void PrintBar(std::ostream& out, const std::string& what, const CaseResult* a,
              const CaseResult* b, double factor) {
  if (a == nullptr || b == nullptr) {
    out << "  n/a   " << what << " (case not run)\n";
    return;
  }
  const double ratio = b->p50_us > 0 ? a->p50_us / b->p50_us : INFINITY;
  out << (ratio <= factor ? "  PASS  " : "  FAIL  ") << what << ": "
      << Format("%.2f", a->p50_us) << " us vs " << Format("%.2f", b->p50_us)
      << " us, ratio " << Format("%.2f", ratio) << " (bar: <= " << Format("%g", factor) << ")\n";
}

}  // namespace

CaseResult Summarize(std::string transport, std::string placement, size_t payload,
                     std::vector<int64_t>& times_ns, uint64_t bytes_copied) {
  CaseResult r;
  r.transport = std::move(transport);
  r.placement = std::move(placement);
  r.payload = payload;
  r.iters = times_ns.size();
  r.bytes_copied = bytes_copied;
  if (times_ns.empty()) return r;
  std::sort(times_ns.begin(), times_ns.end());
  r.p50_us = static_cast<double>(Percentile(times_ns, 0.50)) / 1e3;
  r.p99_us = static_cast<double>(Percentile(times_ns, 0.99)) / 1e3;
  const double total_s =
      static_cast<double>(std::accumulate(times_ns.begin(), times_ns.end(), int64_t{0})) / 1e9;
  r.calls_per_s = total_s > 0 ? static_cast<double>(r.iters) / total_s : 0;
  r.mb_per_s = static_cast<double>(payload) * r.calls_per_s / 1e6;
  return r;
}

std::string ToJson(const CaseResult& r) {
  return "{\"transport\":\"" + r.transport + "\",\"placement\":\"" + r.placement +
         "\",\"payload\":" + std::to_string(r.payload) + ",\"iters\":" + std::to_string(r.iters) +
         ",\"p50_us\":" + Format("%.2f", r.p50_us) + ",\"p99_us\":" + Format("%.2f", r.p99_us) +
         ",\"calls_per_s\":" + Format("%.1f", r.calls_per_s) +
         ",\"mb_per_s\":" + Format("%.1f", r.mb_per_s) +
         ",\"bytes_copied_per_call\":" + PerCall(r.bytes_copied, r.iters) + "}";
}

void PrintTable(std::ostream& out, const std::vector<CaseResult>& results) {
  std::vector<std::string> placements;
  std::vector<size_t> payloads;
  std::vector<std::string> present;
  for (const CaseResult& r : results) {
    if (std::find(placements.begin(), placements.end(), r.placement) == placements.end()) {
      placements.push_back(r.placement);
    }
    if (std::find(payloads.begin(), payloads.end(), r.payload) == payloads.end()) {
      payloads.push_back(r.payload);
    }
  }
  // Each ferry transport next to its floor.
  for (const char* t : {"raw_spin", "raw_futex", "shm", "tcp_upgraded", "raw_uds", "unix",
                        "raw_tcp", "tcp", "mq"}) {
    for (const CaseResult& r : results) {
      if (r.transport == t) {
        present.push_back(t);
        break;
      }
    }
  }
  struct Ratio {
    const char* name;
    const char* a;
    const char* b;
  };
  const Ratio ratios[] = {{"shm/raw_futex", "shm", "raw_futex"},
                          {"up/shm", "tcp_upgraded", "shm"},
                          {"unix/raw_uds", "unix", "raw_uds"},
                          {"tcp/raw_tcp", "tcp", "raw_tcp"}};
  out << "\nferry_bench: p50 (p99) per call in us\n" << Pad("placement", 11) << Pad("payload", 9);
  for (const std::string& t : present) out << Pad(t, 20);
  for (const Ratio& ratio : ratios) out << Pad(ratio.name, 14);
  out << "copied/call (shm unix tcp mq)\n";
  for (const std::string& placement : placements) {
    for (size_t payload : payloads) {
      out << Pad(placement, 11) << Pad(SizeName(payload), 9);
      for (const std::string& t : present) {
        const CaseResult* r = Find(results, t, placement, payload);
        out << Pad(r ? Format("%.2f", r->p50_us) + " (" + Format("%.2f", r->p99_us) + ")" : "-",
                   20);
      }
      for (const Ratio& ratio : ratios) {
        const CaseResult* a = Find(results, ratio.a, placement, payload);
        const CaseResult* b = Find(results, ratio.b, placement, payload);
        out << Pad(a && b && b->p50_us > 0 ? Format("%.2f", a->p50_us / b->p50_us) : "-", 14);
      }
      for (const char* t : {"shm", "unix", "tcp", "mq"}) {
        const CaseResult* r = Find(results, t, placement, payload);
        out << (r ? PerCall(r->bytes_copied, r->iters) : "-") << ' ';
      }
      out << '\n';
    }
  }
  out << "bars (informative):\n";
  for (const std::string& placement : placements) {
    PrintBar(out, placement + ": shm 64 B p50 <= 2 x raw_futex 64 B p50",
             Find(results, "shm", placement, 64), Find(results, "raw_futex", placement, 64), 2);
    PrintBar(out, placement + ": shm 16 MiB p50 <= 3 x shm 64 B p50",
             Find(results, "shm", placement, 16u << 20), Find(results, "shm", placement, 64), 3);
    PrintBar(out, placement + ": tcp_upgraded 64 B p50 <= 1.2 x shm 64 B p50",
             Find(results, "tcp_upgraded", placement, 64), Find(results, "shm", placement, 64),
             1.2);
    PrintBar(out, placement + ": unix 64 B p50 <= 1.5 x raw_uds 64 B p50",
             Find(results, "unix", placement, 64), Find(results, "raw_uds", placement, 64), 1.5);
  }
  for (const char* zero_copy : {"shm", "tcp_upgraded"}) {
    uint64_t cases = 0, copying_cases = 0;
    for (const CaseResult& r : results) {
      if (r.transport != zero_copy) continue;
      ++cases;
      if (r.bytes_copied != 0) ++copying_cases;
    }
    if (cases == 0) {
      out << "  n/a   " << zero_copy << " bytes_copied_per_call = 0 (no case run)\n";
    } else {
      out << (copying_cases == 0 ? "  PASS  " : "  FAIL  ") << zero_copy
          << " bytes_copied_per_call = 0 at every size: " << copying_cases << " of " << cases
          << " cases copied\n";
    }
  }
}

}  // namespace ferry_bench
