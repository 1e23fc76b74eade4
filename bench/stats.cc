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

// "PASS  <what>: a us vs b us, ratio r (bar: <= factor)", or "n/a" when a case is missing
// (a null value).
void PrintAtMostBar(std::ostream& out, const std::string& what, const double* a,
                    const double* b, double factor) {
  if (a == nullptr || b == nullptr) {
    out << "  n/a   " << what << " (case not run)\n";
    return;
  }
  const double ratio = *b > 0 ? *a / *b : INFINITY;
  out << (ratio <= factor ? "  PASS  " : "  FAIL  ") << what << ": " << Format("%.2f", *a)
      << " us vs " << Format("%.2f", *b) << " us, ratio " << Format("%.2f", ratio)
      << " (bar: <= " << Format("%g", factor) << ")\n";
}

// The same for two cases' p50.
void PrintBar(std::ostream& out, const std::string& what, const CaseResult* a,
              const CaseResult* b, double factor) {
  PrintAtMostBar(out, what, a ? &a->p50_us : nullptr, b ? &b->p50_us : nullptr, factor);
}

const RateResult* FindRate(const std::vector<RateResult>& results, const std::string& kind,
                           const std::string& transport, const std::string& placement,
                           size_t payload, uint32_t in_flight) {
  for (const RateResult& r : results) {
    if (r.kind == kind && r.transport == transport && r.placement == placement &&
        r.payload == payload && r.in_flight == in_flight) {
      return &r;
    }
  }
  return nullptr;
}

// "PASS  <what>: <value> <unit> vs <floor> (ratio r, bar: >= factor)", or "n/a" when a case
// is missing. `b` null: the floor is `factor` itself.
void PrintRateBar(std::ostream& out, const std::string& what, const RateResult* a,
                  const RateResult* b, bool b_needed, double factor, const char* unit) {
  if (a == nullptr || (b_needed && b == nullptr)) {
    out << "  n/a   " << what << " (case not run)\n";
    return;
  }
  const double floor = b_needed ? factor * b->per_s() : factor;
  const double ratio = b_needed ? (b->per_s() > 0 ? a->per_s() / b->per_s() : INFINITY)
                                : a->per_s() / factor;
  out << (a->per_s() >= floor ? "  PASS  " : "  FAIL  ") << what << ": "
      << Format("%.0f", a->per_s()) << ' ' << unit;
  if (b_needed) {
    out << " vs " << Format("%.0f", b->per_s()) << ' ' << unit << ", ratio "
        << Format("%.2f", ratio) << " (bar: >= " << Format("%g", factor) << ")\n";
  } else {
    out << ", " << Format("%.2f", ratio) << " x the bar\n";
  }
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

namespace ferry_bench {

std::string ToJson(const RateResult& r) {
  std::string json = "{\"case\":\"" + r.kind + "\",\"transport\":\"" + r.transport +
                     "\",\"placement\":\"" + r.placement +
                     "\",\"payload\":" + std::to_string(r.payload);
  const bool unary = r.kind == "sync_unary" || r.kind == "async_unary";
  if (r.kind == "async_unary") json += ",\"in_flight\":" + std::to_string(r.in_flight);
  json += ",\"iters\":" + std::to_string(r.iters);
  if (unary) return json + ",\"calls_per_s\":" + Format("%.1f", r.per_s()) + "}";
  json += ",\"msgs_per_s\":" + Format("%.1f", r.per_s()) +
          ",\"mb_per_s\":" + Format("%.1f", static_cast<double>(r.payload) * r.per_s() / 1e6);
  if (r.counts_copies) json += ",\"bytes_copied_per_msg\":" + PerCall(r.bytes_copied, r.iters);
  if (r.lost > 0) json += ",\"lost_at_end\":" + std::to_string(r.lost);
  return json + "}";
}

void PrintRateTable(std::ostream& out, const std::vector<RateResult>& results) {
  if (results.empty()) return;
  std::vector<std::string> placements;
  std::vector<std::string> present;
  for (const RateResult& r : results) {
    if (std::find(placements.begin(), placements.end(), r.placement) == placements.end()) {
      placements.push_back(r.placement);
    }
  }
  for (const char* t : {"shm", "tcp_upgraded", "unix", "tcp", "mq"}) {
    for (const RateResult& r : results) {
      if (r.transport == t) {
        present.push_back(t);
        break;
      }
    }
  }
  // The rows in the order cases run; each (kind, payload, in_flight) once.
  struct Row {
    std::string kind;
    size_t payload;
    uint32_t in_flight;
  };
  std::vector<Row> stream_rows, unary_rows;
  for (const RateResult& r : results) {
    std::vector<Row>& rows = r.counts_copies ? stream_rows : unary_rows;
    const bool seen = std::any_of(rows.begin(), rows.end(), [&r](const Row& row) {
      return row.kind == r.kind && row.payload == r.payload && row.in_flight == r.in_flight;
    });
    if (!seen) rows.push_back({r.kind, r.payload, r.in_flight});
  }
  if (!stream_rows.empty()) {
    out << "\nferry_bench: stream messages per second (bytes copied per message, client + "
           "server)\n"
        << Pad("placement", 11) << Pad("case", 15) << Pad("payload", 9);
    for (const std::string& t : present) out << Pad(t, 22);
    out << '\n';
    for (const std::string& placement : placements) {
      for (const Row& row : stream_rows) {
        out << Pad(placement, 11) << Pad(row.kind, 15) << Pad(SizeName(row.payload), 9);
        for (const std::string& t : present) {
          const RateResult* r = FindRate(results, row.kind, t, placement, row.payload, 0);
          out << Pad(r ? Format("%.0f", r->per_s()) + " (" + PerCall(r->bytes_copied, r->iters) +
                             ")" + (r->lost > 0 ? " !" : "")
                       : "-",
                     22);
        }
        out << '\n';
      }
    }
    for (const RateResult& r : results) {
      if (r.lost == 0) continue;
      out << "! " << r.placement << ' ' << r.kind << ' ' << r.transport << ' '
          << SizeName(r.payload) << ": the stream ended OK but the client got "
          << r.lost << " fewer messages than the server wrote (its tail)\n";
    }
  }
  if (!unary_rows.empty()) {
    out << "\nferry_bench: unary calls per second from one client thread, 64 B requests\n"
        << Pad("placement", 11) << Pad("case", 13) << Pad("in_flight", 11);
    for (const std::string& t : present) out << Pad(t, 14);
    out << '\n';
    for (const std::string& placement : placements) {
      for (const Row& row : unary_rows) {
        out << Pad(placement, 11) << Pad(row.kind, 13)
            << Pad(row.kind == "async_unary" ? std::to_string(row.in_flight) : "1 (sync)", 11);
        for (const std::string& t : present) {
          const RateResult* r =
              FindRate(results, row.kind, t, placement, row.payload, row.in_flight);
          out << Pad(r ? Format("%.0f", r->per_s()) : "-", 14);
        }
        out << '\n';
      }
    }
  }
  out << "stream and async bars (informative):\n";
  for (const std::string& placement : placements) {
    PrintRateBar(out, placement + ": shm server_stream 64 B msgs_per_s >= 1,000,000",
                 FindRate(results, "server_stream", "shm", placement, 64, 0), nullptr, false,
                 1e6, "msgs/s");
    PrintRateBar(out,
                 placement + ": unix async_unary (64 in flight) calls_per_s >= 3 x unix "
                             "sync_unary calls_per_s",
                 FindRate(results, "async_unary", "unix", placement, 64, 64),
                 FindRate(results, "sync_unary", "unix", placement, 64, 0), true, 3, "calls/s");
  }
  for (const char* zero_copy : {"shm", "tcp_upgraded"}) {
    uint64_t cases = 0, copying_cases = 0;
    for (const RateResult& r : results) {
      if (r.transport != zero_copy || !r.counts_copies || r.payload != (1u << 20)) continue;
      ++cases;
      if (r.bytes_copied != 0) ++copying_cases;
    }
    if (cases == 0) {
      out << "  n/a   " << zero_copy << " 1 MiB stream messages bytes_copied_per_msg = 0"
          << " (no case run)\n";
    } else {
      out << (copying_cases == 0 ? "  PASS  " : "  FAIL  ") << zero_copy
          << " 1 MiB stream messages bytes_copied_per_msg = 0: " << copying_cases << " of "
          << cases << " cases copied\n";
    }
  }
}

}  // namespace ferry_bench

namespace ferry_bench {
namespace {

const PacedResult* FindPaced(const std::vector<PacedResult>& results,
                             const std::string& transport, const std::string& placement,
                             uint32_t rate_hz) {
  for (const PacedResult& r : results) {
    if (r.transport == transport && r.placement == placement && r.rate_hz == rate_hz) return &r;
  }
  return nullptr;
}

std::string RateName(uint32_t hz) {
  return hz >= 1000 && hz % 1000 == 0 ? std::to_string(hz / 1000) + " kHz"
                                      : std::to_string(hz) + " Hz";
}

}  // namespace

std::string ToJson(const PacedResult& r) {
  std::string json = "{\"case\":\"paced\",\"transport\":\"" + r.transport +
                     "\",\"placement\":\"" + r.placement +
                     "\",\"payload\":" + std::to_string(r.payload) +
                     ",\"rate_hz\":" + std::to_string(r.rate_hz) +
                     ",\"iters\":" + std::to_string(r.iters) +
                     ",\"seconds\":" + Format("%.3f", r.seconds) +
                     ",\"p50_us\":" + Format("%.2f", r.p50_us) +
                     ",\"p99_us\":" + Format("%.2f", r.p99_us) +
                     ",\"server_cpu_us_per_call\":" + Format("%.2f", r.server_cpu_us_per_call) +
                     ",\"client_cpu_us_per_call\":" + Format("%.2f", r.client_cpu_us_per_call);
  if (r.skipped > 0) json += ",\"skipped_slots\":" + std::to_string(r.skipped);
  return json + "}";
}

void PrintPacedTable(std::ostream& out, const std::vector<PacedResult>& results) {
  if (results.empty()) return;
  std::vector<std::string> placements;
  std::vector<uint32_t> rates;
  for (const PacedResult& r : results) {
    if (std::find(placements.begin(), placements.end(), r.placement) == placements.end()) {
      placements.push_back(r.placement);
    }
    if (std::find(rates.begin(), rates.end(), r.rate_hz) == rates.end()) {
      rates.push_back(r.rate_hz);
    }
  }
  const char* const transports[] = {"shm", "raw_futex"};
  out << "\nferry_bench: paced 64 B calls, CPU per call in us (server / client)\n"
      << Pad("placement", 11) << Pad("rate", 8);
  for (const char* t : transports) out << Pad(t, 22);
  out << "p50 us (shm raw_futex)\n";
  for (const std::string& placement : placements) {
    for (const uint32_t rate : rates) {
      out << Pad(placement, 11) << Pad(RateName(rate), 8);
      for (const char* t : transports) {
        const PacedResult* r = FindPaced(results, t, placement, rate);
        out << Pad(r ? Format("%.2f", r->server_cpu_us_per_call) + " / " +
                           Format("%.2f", r->client_cpu_us_per_call) + (r->skipped > 0 ? " !" : "")
                     : "-",
                   22);
      }
      for (const char* t : transports) {
        const PacedResult* r = FindPaced(results, t, placement, rate);
        out << (r ? Format("%.2f", r->p50_us) : "-") << ' ';
      }
      out << '\n';
    }
  }
  for (const PacedResult& r : results) {
    if (r.skipped == 0) continue;
    out << "! " << r.placement << ' ' << RateName(r.rate_hz) << ' ' << r.transport << ": "
        << r.skipped << " of " << r.iters + r.skipped
        << " slots skipped (the call before ended after they were over)\n";
  }
  out << "paced bars (informative):\n";
  for (const std::string& placement : placements) {
    const PacedResult* shm = FindPaced(results, "shm", placement, 1000);
    const PacedResult* futex = FindPaced(results, "raw_futex", placement, 1000);
    PrintAtMostBar(out, placement + ": paced 1 kHz: shm server CPU per call <= 2 x raw_futex",
                   shm ? &shm->server_cpu_us_per_call : nullptr,
                   futex ? &futex->server_cpu_us_per_call : nullptr, 2);
    PrintAtMostBar(out, placement + ": paced 1 kHz: shm client CPU per call <= 2 x raw_futex",
                   shm ? &shm->client_cpu_us_per_call : nullptr,
                   futex ? &futex->client_cpu_us_per_call : nullptr, 2);
  }
}

}  // namespace ferry_bench

namespace ferry_bench {
namespace {

constexpr uint32_t kBarCallers[] = {4, 16, 64};

const ConcurrencyResult* FindConcurrency(const std::vector<ConcurrencyResult>& results,
                                         const std::string& transport, const std::string& mode,
                                         uint32_t callers) {
  for (const ConcurrencyResult& r : results) {
    if (r.transport == transport && r.mode == mode && r.callers == callers) return &r;
  }
  return nullptr;
}

const ConnectionsResult* FindConnections(const std::vector<ConnectionsResult>& results,
                                         uint32_t clients) {
  for (const ConnectionsResult& r : results) {
    if (r.clients == clients) return &r;
  }
  return nullptr;
}

// A figure that may be missing (negative): "-" in the table, null in the JSON.
std::string Known(int64_t value, const char* missing) {
  return value < 0 ? missing : std::to_string(value);
}

std::string Known(double value, const char* format, const char* missing) {
  return value < 0 ? missing : Format(format, value);
}

}  // namespace

std::string ToJson(const ConcurrencyResult& r) {
  return "{\"case\":\"concurrency\",\"transport\":\"" + r.transport +
         "\",\"placement\":\"any\",\"mode\":\"" + r.mode +
         "\",\"callers\":" + std::to_string(r.callers) +
         ",\"payload\":" + std::to_string(r.payload) + ",\"iters\":" + std::to_string(r.iters) +
         ",\"calls_per_s\":" + Format("%.1f", r.calls_per_s) +
         ",\"p50_us\":" + Format("%.2f", r.p50_us) + ",\"p99_us\":" + Format("%.2f", r.p99_us) +
         ",\"failed\":" + std::to_string(r.failed) + "}";
}

std::string ToJson(const ConnectionsResult& r) {
  return "{\"case\":\"connections\",\"transport\":\"" + r.transport +
         "\",\"placement\":\"any\",\"clients\":" + std::to_string(r.clients) +
         ",\"connected\":" + std::to_string(r.connected) +
         ",\"idle_s\":" + Format("%.3f", r.idle_seconds) +
         ",\"server_threads\":" + Known(r.server_threads, "null") +
         ",\"server_rss_kb\":" + Known(r.server_rss_kb, "null") +
         ",\"server_idle_cpu_pct\":" + Known(r.server_idle_cpu_pct, "%.3f", "null") +
         ",\"answered\":" + std::to_string(r.answered) + "}";
}

void PrintConcurrencyTable(std::ostream& out, const std::vector<ConcurrencyResult>& results) {
  if (results.empty()) return;
  std::vector<std::string> modes;
  std::vector<uint32_t> counts;
  for (const ConcurrencyResult& r : results) {
    if (std::find(modes.begin(), modes.end(), r.mode) == modes.end()) modes.push_back(r.mode);
    if (std::find(counts.begin(), counts.end(), r.callers) == counts.end()) {
      counts.push_back(r.callers);
    }
  }
  const char* const transports[] = {"shm", "unix", "raw_uds"};
  out << "\nferry_bench: concurrency: 64 B calls back to back from every caller at once, calls "
         "per second over all of them (p50 / p99 us); no CPU pinned\n"
      << Pad("mode", 11) << Pad("callers", 9);
  for (const char* t : transports) out << Pad(t, 28);
  out << Pad("shm/unix", 10) << "failed (shm unix raw_uds)\n";
  for (const std::string& mode : modes) {
    for (const uint32_t callers : counts) {
      out << Pad(mode, 11) << Pad(std::to_string(callers), 9);
      for (const char* t : transports) {
        const ConcurrencyResult* r = FindConcurrency(results, t, mode, callers);
        out << Pad(r ? Format("%.0f", r->calls_per_s) + " (" + Format("%.1f", r->p50_us) +
                           " / " + Format("%.1f", r->p99_us) + ")" + (r->failed > 0 ? " !" : "")
                     : "-",
                   28);
      }
      const ConcurrencyResult* shm = FindConcurrency(results, "shm", mode, callers);
      const ConcurrencyResult* on_unix = FindConcurrency(results, "unix", mode, callers);
      out << Pad(shm && on_unix && on_unix->calls_per_s > 0
                     ? Format("%.2f", shm->calls_per_s / on_unix->calls_per_s)
                     : "-",
                 10);
      for (const char* t : transports) {
        const ConcurrencyResult* r = FindConcurrency(results, t, mode, callers);
        out << (r ? std::to_string(r->failed) : "-") << ' ';
      }
      out << '\n';
    }
  }
  for (const ConcurrencyResult& r : results) {
    if (r.failed == 0) continue;
    out << "! " << r.mode << ' ' << r.callers << " callers " << r.transport << ": " << r.failed
        << " failed calls; the first: " << (r.first_error.empty() ? "?" : r.first_error) << '\n';
  }
  out << "concurrency bars (informative):\n";
  for (const std::string& mode : modes) {
    for (const uint32_t callers : kBarCallers) {
      const ConcurrencyResult* shm = FindConcurrency(results, "shm", mode, callers);
      const ConcurrencyResult* on_unix = FindConcurrency(results, "unix", mode, callers);
      const std::string what = mode + ": shm calls_per_s at " + std::to_string(callers) +
                               " callers >= 3 x unix at " + std::to_string(callers);
      if (shm == nullptr || on_unix == nullptr) {
        out << "  n/a   " << what << " (case not run)\n";
        continue;
      }
      const double ratio =
          on_unix->calls_per_s > 0 ? shm->calls_per_s / on_unix->calls_per_s : INFINITY;
      out << (ratio >= 3 ? "  PASS  " : "  FAIL  ") << what << ": "
          << Format("%.0f", shm->calls_per_s) << " vs " << Format("%.0f", on_unix->calls_per_s)
          << " calls/s, ratio " << Format("%.2f", ratio) << " (bar: >= 3)\n";
    }
    // shm's best over the whole sweep (every caller count run), against 4, 16 and 64.
    const ConcurrencyResult* best = nullptr;
    for (const ConcurrencyResult& r : results) {
      if (r.transport == "shm" && r.mode == mode && (!best || r.calls_per_s > best->calls_per_s)) {
        best = &r;
      }
    }
    const std::string what =
        mode + ": shm calls_per_s at 4, 16 and 64 callers >= 0.5 x shm's best in the sweep";
    std::string figures;
    bool all_run = best != nullptr, pass = true;
    for (const uint32_t callers : kBarCallers) {
      const ConcurrencyResult* r = FindConcurrency(results, "shm", mode, callers);
      if (r == nullptr) {
        all_run = false;
        continue;
      }
      pass = pass && r->calls_per_s >= 0.5 * best->calls_per_s;
      figures += (figures.empty() ? "" : ", ") + std::to_string(callers) + ": " +
                 Format("%.0f", r->calls_per_s) + " (" +
                 Format("%.2f", best->calls_per_s > 0 ? r->calls_per_s / best->calls_per_s : 0) +
                 ")";
    }
    if (!all_run) {
      out << "  n/a   " << what << " (case not run)\n";
    } else {
      out << (pass ? "  PASS  " : "  FAIL  ") << what << " (" << Format("%.0f", best->calls_per_s)
          << " calls/s at " << best->callers << "): " << figures << '\n';
    }
  }
  uint64_t failing_cases = 0, failed = 0;
  for (const ConcurrencyResult& r : results) {
    failed += r.failed;
    if (r.failed > 0) ++failing_cases;
  }
  out << (failing_cases == 0 ? "  PASS  " : "  FAIL  ")
      << "zero failed calls in every concurrency case: " << failing_cases << " of "
      << results.size() << " cases had failed calls (" << failed << " calls)\n";
}

void PrintConnectionsTable(std::ostream& out, const std::vector<ConnectionsResult>& results) {
  if (results.empty()) return;
  out << "\nferry_bench: connections: shm clients on one server, idle, then one call each "
         "(server figures from /proc after the idle window)\n"
      << Pad("clients", 9) << Pad("connected", 11) << Pad("connect_s", 11) << Pad("idle_s", 8)
      << Pad("server_threads", 16) << Pad("server_rss_kb", 15) << Pad("server_fds", 12)
      << Pad("idle_cpu_%", 12) << Pad("answered", 10) << Pad("client_threads", 16)
      << "close_s\n";
  for (const ConnectionsResult& r : results) {
    out << Pad(std::to_string(r.clients), 9) << Pad(std::to_string(r.connected), 11)
        << Pad(Format("%.2f", r.connect_seconds), 11) << Pad(Format("%.1f", r.idle_seconds), 8)
        << Pad(Known(r.server_threads, "-"), 16) << Pad(Known(r.server_rss_kb, "-"), 15)
        << Pad(Known(r.server_fds, "-"), 12) << Pad(Known(r.server_idle_cpu_pct, "%.3f", "-"), 12)
        << Pad(std::to_string(r.answered), 10) << Pad(Known(r.client_threads, "-"), 16)
        << Known(r.close_seconds, "%.2f", "-") << '\n';
  }
  for (const ConnectionsResult& r : results) {
    if (r.note.empty()) continue;
    out << "! " << r.clients << " clients: " << r.note << '\n';
  }
  out << "connections bars (informative):\n";
  if (const ConnectionsResult* r = FindConnections(results, 1000); r == nullptr) {
    out << "  n/a   1,000 clients on one server, each answering a call afterwards, with server "
           "threads <= 4 x cores + 8 (case not run)\n";
  } else {
    const int64_t most = 4 * int64_t{r->cores} + 8;
    const bool pass = r->answered == r->clients && r->server_threads >= 0 &&
                      r->server_threads <= most;
    out << (pass ? "  PASS  " : "  FAIL  ")
        << "1,000 clients on one server, each answering a call afterwards, with server threads "
           "<= 4 x cores + 8: "
        << r->answered << " of " << r->clients << " answered (" << r->connected
        << " connected), " << Known(r->server_threads, "?") << " server threads (bar: <= " << most
        << " on " << r->cores << " cores)\n";
  }
  if (const ConnectionsResult* r = FindConnections(results, 100); r == nullptr) {
    out << "  n/a   100 idle connected clients cost the server < 1% of a core (case not run)\n";
  } else {
    const bool pass = r->connected == r->clients && r->server_idle_cpu_pct >= 0 &&
                      r->server_idle_cpu_pct < 1;
    out << (pass ? "  PASS  " : "  FAIL  ")
        << "100 idle connected clients cost the server < 1% of a core: "
        << Known(r->server_idle_cpu_pct, "%.3f%%", "not measured") << " over "
        << Format("%.1f", r->idle_seconds) << " s, " << r->connected << " of " << r->clients
        << " connected (bar: < 1%)\n";
  }
}

}  // namespace ferry_bench
