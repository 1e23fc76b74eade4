// ticker_client [endpoint] [ticks] [period_us]: watches `ticks` ticks (default 100000) from
// ticker.Ticker, one per `period_us` (default 0: as fast as they come), prints a few of them and
// the rate. Then subscribes to an endless ticker, reads three ticks and cancels it.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iomanip>
#include <iostream>

#include "ferry/ferry.h"
#include "ticker.ferry.h"

namespace {

int64_t UnixNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void PrintTick(const ticker::Tick& tick) {
  std::cout << "client: tick " << tick.seq() << " written at " << tick.unix_ns() / 1000000000
            << '.' << std::setw(9) << std::setfill('0') << tick.unix_ns() % 1000000000
            << std::setfill(' ') << ", read " << (UnixNanos() - tick.unix_ns()) / 1000
            << " us later\n";
}

}  // namespace

int main(int argc, char** argv) {
  const char* endpoint = argc > 1 ? argv[1] : "shm://ticker";
  const uint32_t ticks = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 100000;
  const uint32_t period_us = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 0;

  ferry::Result<ferry::Channel> channel = ferry::Connect(endpoint);
  if (!channel.ok()) {
    std::cerr << "client: " << channel.status() << '\n';
    return 1;
  }
  ticker::Ticker::Client ticker(*channel);

  const auto start = std::chrono::steady_clock::now();
  auto stream = ticker.Watch(ticks, period_us);
  uint64_t received = 0;
  for (auto& tick : stream) {  // each tick is read in place, where the server wrote it
    if (tick->seq() != received) {
      std::cerr << "client: tick " << tick->seq() << " came where " << received
                << " was due\n";
      return 1;
    }
    if (received < 3 || received + 1 == ticks) PrintTick(*tick);
    if (received == 3 && ticks > 4) std::cout << "client: ...\n";
    ++received;
  }
  ferry::Status status = stream.Finish();  // OK: the server ended the stream normally
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  std::cout << "client: " << received << " ticks in order in " << std::fixed
            << std::setprecision(2) << elapsed.count() << " s: " << std::setprecision(0)
            << received / elapsed.count() << " ticks/s; Finish() = " << status << '\n';
  if (!status.ok() || received != ticks) return 1;

  // count 0: endless. Cancel() ends the call on both sides; the server's WaitForCancel wakes.
  auto endless = ticker.Watch(/*count=*/0, /*period_us=*/1000);
  for (int i = 0; i < 3; ++i) {
    if (!endless.Read()) break;
  }
  endless.Cancel();
  status = endless.Finish();
  std::cout << "client: an endless ticker, cancelled after 3 ticks: Finish() = " << status
            << '\n';
  return status.code() == ferry::StatusCode::kCancelled ? 0 : 1;
}
