// ferry_chaos_client <endpoint> <threads> <seed> <victim|witness> [--no-shm]: a client
// process of the chaos test, to be SIGKILLed at any moment. Runs the chaos load (chaos_load.h;
// half the threads make small calls only) against <endpoint> (victim: the server may be
// killed, so UNAVAILABLE is expected) and reports on stdout, a line each:
//   started                    once SIGTERM is blocked (the test stops clients with it)
//   transport <name>           once the first channel is up
//   calls <counts>             cumulative outcomes, every 200 ms while they change
//   connects <counts>          likewise for Connect
//   unexpected <example>       the first few calls or connects that ended unexpectedly
//   hang <what>                a call or connect running past kHangBound
//   done                       after SIGTERM, once every thread has returned (exit 0)
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <iostream>
#include <set>
#include <string>

#include "chaos_load.h"
#include "support/serve_until_signal.h"

namespace {

using namespace std::chrono_literals;

// Prints what is new in `tally`'s examples since `shown`.
void ShowExamples(const ferry::chaos::Tally& tally, size_t& shown) {
  const std::vector<std::string> examples = tally.examples();
  for (; shown < examples.size(); ++shown) std::cout << "unexpected " << examples[shown] << '\n';
}

struct Reported {
  std::string calls, connects;
  size_t call_examples = 0, connect_examples = 0;
};

void Report(const ferry::chaos::Load& load, Reported& reported) {
  const std::string calls = ferry::chaos::FormatCounts(load.calls().counts());
  const std::string connects = ferry::chaos::FormatCounts(load.connects().counts());
  if (calls != reported.calls) std::cout << "calls " << calls << '\n';
  if (connects != reported.connects) std::cout << "connects " << connects << '\n';
  reported.calls = calls;
  reported.connects = connects;
  ShowExamples(load.calls(), reported.call_examples);
  ShowExamples(load.connects(), reported.connect_examples);
  std::cout.flush();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5 || argc > 6 || (argc == 6 && std::string(argv[5]) != "--no-shm")) {
    std::cerr << "usage: ferry_chaos_client <endpoint> <threads> <seed> <victim|witness> "
                 "[--no-shm]\n";
    return 2;
  }
  // Before any thread exists, so that SIGTERM reaches only the sigtimedwait below.
  const sigset_t stop = ferry::testing::BlockStopSignals();
  std::cout << "started" << std::endl;
  ferry::chaos::LoadOptions options;
  options.endpoint = argv[1];
  options.threads = std::stoi(argv[2]);
  options.small_threads = options.threads / 2;
  options.seed = std::stoull(argv[3]);
  options.server_may_die = std::string(argv[4]) == "victim";
  options.deadline_share = 0.1;
  options.allow_shm = argc != 6;
  ferry::chaos::Load load(options);

  Reported reported;
  bool transport_shown = false;
  std::set<std::string> hangs_shown;
  for (;;) {
    const timespec tick{0, 200 * 1000 * 1000};
    if (sigtimedwait(&stop, nullptr, &tick) >= 0) break;
    if (!transport_shown && !load.transport().empty()) {
      std::cout << "transport " << load.transport() << '\n';
      transport_shown = true;
    }
    for (const std::string& hang : load.Overdue(ferry::chaos::kHangBound)) {
      // One line per hung thread, not one per tick.
      const std::string thread = hang.substr(0, hang.find(':'));
      if (hangs_shown.insert(thread).second) std::cout << "hang " << hang << '\n';
    }
    Report(load, reported);
  }
  load.RequestStop();
  if (!load.WaitStopped(ferry::chaos::kHangBound + 5s)) {
    for (const std::string& hang : load.Overdue(0ms)) std::cout << "hang at exit " << hang << '\n';
    Report(load, reported);
    _exit(3);  // the hung threads cannot be joined
  }
  Report(load, reported);
  std::cout << "done" << std::endl;
  return 0;
}
