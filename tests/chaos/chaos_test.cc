// The chaos test (issue 10, item 8). Per transport: a witness server that is never killed and
// a victim server that is SIGKILLed at random moments and restarted on the same endpoint,
// both under load from threads sharing one channel in this process and from client processes
// (a channel each) that are SIGKILLed at random too; payloads of 64 B to 16 MiB each way.
// Checks that every call returns (none runs past kHangBound) with OK or a status its caller
// may expect, that the witness's own clients see no failure at all, that the restarted
// victim serves again, and that afterwards this process's fds and threads, the witness
// server's fds, threads and RSS, /dev/shm and the runtime dir are back where they were.
//
// FERRY_CHAOS_SEED=<n> replays a run's decisions (each run prints its seed; the timing of
// what happens between them is the machine's); FERRY_CHAOS_SECONDS=<n> sets the length of
// the chaos (default 20).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "chaos_load.h"
#include "chaos_service.ferry.h"
#include "ferry/ferry.h"
#include "support/process.h"
#include "support/shm_files.h"

namespace ferry::chaos {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Counts = std::map<std::string, uint64_t>;
using testing::ChildProcess;
using testing::HelperPath;

constexpr auto kStartTimeout = 10s;
constexpr auto kExitTimeout = 10s;
// How long teardown may take to give back fds, threads and memory once everyone is gone.
constexpr auto kSettleTimeout = 15s;
// Half of each group of threads makes small calls only (see LoadOptions::small_threads).
constexpr int kVictimThreads = 4;
constexpr int kWitnessThreads = 4;
constexpr int kClientProcessesPerServer = 2;
constexpr int kThreadsPerClientProcess = 2;
// The witness server's RSS afterwards may exceed its idle RSS by this much (whichever of
// the two is larger): allocator slack, not pools or connections that outlived their clients.
constexpr double kRssSlackRatio = 0.10;
constexpr uint64_t kRssSlackBytes = 10 << 20;

struct Transport {
  std::string name;
  // Where the servers listen: "{dir}" is the test's runtime dir, "{port}" a port picked
  // once for the victim (outside the ephemeral range, so no client socket holds it).
  std::string witness;
  std::string victim;
  bool allow_shm;
  std::string channel_transport;  // what channels report after the handshake
};

void PrintTo(const Transport& transport, std::ostream* out) { *out << transport.name; }

std::string TransportName(const ::testing::TestParamInfo<Transport>& info) {
  return info.param.name;
}

uint64_t EnvNumber(const char* name, uint64_t otherwise) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::stoull(value) : otherwise;
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  if (size_t at = text.find(from); at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += "\n  " + line;
  return text;
}

struct Usage {
  size_t fds = 0;
  size_t threads = 0;
  uint64_t rss = 0;  // bytes
  uint64_t rss_anon = 0;  // of which private memory (heap, stacks)
  uint64_t rss_shmem = 0;  // and shared memory (segments still mapped)
};

Usage UsageOf(const std::string& proc) {
  Usage usage;
  usage.fds = testing::FilesIn(proc + "/fd").size();
  usage.threads = testing::FilesIn(proc + "/task").size();
  std::ifstream status(proc + "/status");
  auto kib = [](const std::string& line) { return std::stoull(line.substr(line.find(':') + 1)); };
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) usage.rss = kib(line) * 1024;
    if (line.rfind("RssAnon:", 0) == 0) usage.rss_anon = kib(line) * 1024;
    if (line.rfind("RssShmem:", 0) == 0) usage.rss_shmem = kib(line) * 1024;
  }
  return usage;
}

std::string Format(const Usage& usage) {
  std::ostringstream out;
  out << "fds " << usage.fds << ", threads " << usage.threads << ", RSS " << usage.rss / 1024
      << " KiB (anon " << usage.rss_anon / 1024 << ", shmem " << usage.rss_shmem / 1024 << ")";
  return out.str();
}

// Polls `done` every 20 ms for at most `timeout`; true once it held.
bool Eventually(std::chrono::milliseconds timeout, const std::function<bool()>& done) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

// A process's usage once its fds and threads have held still for 300 ms (the teardown of a
// connection finishes asynchronously), or after kSettleTimeout.
Usage Settled(const std::string& proc) {
  Usage last = UsageOf(proc);
  auto still_since = Clock::now();
  Eventually(kSettleTimeout, [&] {
    const Usage now = UsageOf(proc);
    if (now.fds != last.fds || now.threads != last.threads) still_since = Clock::now();
    last = now;
    return Clock::now() - still_since >= 300ms;
  });
  return last;
}

// Starts ferry_chaos_server on `listen`; on success sets `endpoint` to where it listens.
std::unique_ptr<ChildProcess> StartServer(const std::string& listen, bool allow_shm,
                                          std::string& endpoint) {
  std::vector<std::string> args = {HelperPath("ferry_chaos_server")};
  if (!allow_shm) args.push_back("--no-shm");
  args.push_back(listen);
  auto server = std::make_unique<ChildProcess>(ChildProcess::Exec(args));
  std::optional<std::string> line = server->ReadLine(kStartTimeout);
  if (!line || line->rfind("ready ", 0) != 0) return nullptr;
  endpoint = line->substr(6);
  return server;
}

// A ferry_chaos_client process and what it reported (chaos_client.cc: the line protocol).
struct ClientProcess {
  std::unique_ptr<ChildProcess> process;
  std::string name;  // "victim client #3 (pid 1234)"
  Counts calls;
  Counts connects;
  bool done = false;
};

class Chaos : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    seed_ = EnvNumber("FERRY_CHAOS_SEED", std::random_device()());
    seconds_ = EnvNumber("FERRY_CHAOS_SECONDS", 20);
    rng_.seed(seed_);
    Say() << "seed " << seed_ << " (FERRY_CHAOS_SEED=" << seed_ << " replays it), "
          << seconds_ << " s of chaos" << std::endl;
  }

  std::ostream& Say() { return std::cout << "[chaos " << GetParam().name << "] "; }

  int Uniform(int low, int high) { return std::uniform_int_distribution<int>(low, high)(rng_); }

  std::string Listen(const std::string& pattern) const {
    return Replace(Replace(pattern, "{dir}", runtime_dir_.path()), "{port}",
                   std::to_string(victim_port_));
  }

  // Starts (or restarts) the victim on its endpoint. A tcp port is picked on the first start.
  bool StartVictim() {
    const bool pick_port =
        victim_port_ == 0 && GetParam().victim.find("{port}") != std::string::npos;
    for (int attempt = 0; attempt < 20; ++attempt) {
      if (pick_port) victim_port_ = Uniform(20000, 32000);
      std::string endpoint;
      victim_ = StartServer(Listen(GetParam().victim), GetParam().allow_shm, endpoint);
      if (victim_ != nullptr) {
        pids_.push_back(victim_->pid());
        if (victim_endpoint_.empty()) victim_endpoint_ = endpoint;
        EXPECT_EQ(endpoint, victim_endpoint_) << "the victim came back elsewhere";
        return true;
      }
      if (!pick_port) {
        // Restarting on the same endpoint must work; allow a moment for a slow kernel.
        if (attempt >= 2) return false;
        std::this_thread::sleep_for(500ms);
      }
    }
    return false;
  }

  void StartClient(const std::string& role, const std::string& endpoint) {
    std::vector<std::string> args = {HelperPath("ferry_chaos_client"), endpoint,
                                     std::to_string(kThreadsPerClientProcess),
                                     std::to_string(rng_()), role};
    if (!GetParam().allow_shm) args.push_back("--no-shm");
    ClientProcess client;
    client.process = std::make_unique<ChildProcess>(ChildProcess::Exec(args));
    pids_.push_back(client.process->pid());
    client.name = role + " client #" + std::to_string(++clients_started_) + " (pid " +
                  std::to_string(client.process->pid()) + ")";
    // Until then a SIGTERM (at the end of the test) would kill it rather than stop it.
    if (client.process->ReadLine(kStartTimeout) != "started") {
      problems_.push_back(client.name + " did not start");
    }
    (role == "victim" ? victim_clients_ : witness_clients_).push_back(std::move(client));
  }

  void Absorb(ClientProcess& client, const std::string& line) {
    auto rest = [&](size_t skip) { return line.substr(std::min(skip, line.size())); };
    if (line.rfind("calls ", 0) == 0) {
      client.calls = ParseCounts(rest(6));
    } else if (line.rfind("connects ", 0) == 0) {
      client.connects = ParseCounts(rest(9));
    } else if (line.rfind("transport ", 0) == 0) {
      // A victim client may connect just as its server is killed between the socket
      // handshake and the move to shared memory; a witness's channel must always move.
      const bool victim = client.name.rfind("victim", 0) == 0;
      if (rest(10) != GetParam().channel_transport && !victim) {
        problems_.push_back(client.name + ": channel on " + rest(10) + ", expected " +
                            GetParam().channel_transport);
      }
    } else if (line == "done") {
      client.done = true;
    } else {  // "unexpected ...", "hang ...", anything else
      problems_.push_back(client.name + ": " + line);
      std::cerr << "[chaos " << GetParam().name << "] " << client.name << ": " << line
                << std::endl;
    }
  }

  void Pump(ClientProcess& client, std::chrono::milliseconds wait = 0ms) {
    while (std::optional<std::string> line = client.process->ReadLine(wait)) Absorb(client, *line);
  }

  // Keeps what a client process reported; its process is reaped.
  void Retire(ClientProcess& client, Counts& calls, Counts& connects) {
    AddCounts(calls, client.calls);
    AddCounts(connects, client.connects);
    client.process.reset();
  }

  void KillClient(std::vector<ClientProcess>& clients, const std::string& role,
                  const std::string& endpoint) {
    const size_t i = static_cast<size_t>(Uniform(0, static_cast<int>(clients.size()) - 1));
    ClientProcess& client = clients[i];
    client.process->Signal(SIGKILL);
    Pump(client, 1s);  // up to EOF: whatever it wrote before it died
    Retire(client, role == "victim" ? victim_client_calls_ : witness_client_calls_,
           role == "victim" ? victim_client_connects_ : witness_client_connects_);
    clients.erase(clients.begin() + static_cast<std::ptrdiff_t>(i));
    StartClient(role, endpoint);
  }

  // SIGTERM, then every line up to EOF and exit 0 within the hang bound.
  void StopClients(std::vector<ClientProcess>& clients, Counts& calls, Counts& connects) {
    for (ClientProcess& client : clients) client.process->Signal(SIGTERM);
    for (ClientProcess& client : clients) {
      Pump(client, kHangBound + 10s);
      std::optional<int> status = client.process->Wait(kExitTimeout);
      if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0 || !client.done) {
        problems_.push_back(client.name + " did not stop cleanly on SIGTERM: " +
                            (status ? testing::DescribeWaitStatus(*status) : "still running"));
      }
      Retire(client, calls, connects);
    }
    clients.clear();
  }

  void CheckOverdue(const Load& load, const std::string& who) {
    for (const std::string& hang : load.Overdue(kHangBound)) {
      const std::string key = who + " " + hang.substr(0, hang.find(':'));
      if (hangs_reported_.insert(key).second) {
        problems_.push_back("HANG: " + who + " " + hang);
        std::cerr << "[chaos " << GetParam().name << "] HANG: " << who << " " << hang
                  << std::endl;
      }
    }
  }

  // A call that never returns cannot be joined: report what is known and end the process
  // (the children die with it).
  [[noreturn]] void DieOfHang(const std::vector<const Load*>& loads) {
    std::cerr << "[chaos " << GetParam().name << "] FAILED: calls still running "
              << kHangBound.count() << " s after the load was told to stop:";
    for (const Load* load : loads) std::cerr << Join(load->Overdue(0ms));
    std::cerr << "\nother problems:" << Join(problems_) << std::endl;
    std::error_code ignored;
    std::filesystem::remove_all(runtime_dir_.path(), ignored);
    std::_Exit(1);
  }

  uint64_t seed_ = 0;
  uint64_t seconds_ = 0;
  std::mt19937_64 rng_;
  testing::ScopedRuntimeDir runtime_dir_;
  int victim_port_ = 0;
  std::string victim_endpoint_;
  std::unique_ptr<ChildProcess> victim_;
  std::vector<int> pids_;  // every process this test started, for the /dev/shm check
  std::vector<ClientProcess> victim_clients_, witness_clients_;
  int clients_started_ = 0;
  Counts victim_client_calls_, victim_client_connects_;
  Counts witness_client_calls_, witness_client_connects_;
  std::vector<std::string> problems_;
  std::set<std::string> hangs_reported_;
};

TEST_P(Chaos, EveryCallReturnsAndNothingLeaks) {
  const Transport& transport = GetParam();

  std::string witness_endpoint;
  std::unique_ptr<ChildProcess> witness =
      StartServer(Listen(transport.witness), transport.allow_shm, witness_endpoint);
  ASSERT_NE(witness, nullptr) << "the witness server did not start";
  pids_.push_back(witness->pid());
  const std::string witness_proc = "/proc/" + std::to_string(witness->pid());
  {
    // One connection first: whatever either side sets up once per process belongs to the
    // idle state the baselines describe.
    ConnectOptions options;
    options.allow_shm = transport.allow_shm;
    Result<Channel> channel = Connect(witness_endpoint, options);
    ASSERT_TRUE(channel.ok()) << channel.status();
    EXPECT_EQ(channel->transport(), transport.channel_transport);
    ChaosService::Client client(*channel);
    auto request = client.NewEchoRequest(256);
    request.Finish(CreatePayload(request.fbb(), 1, 0, 64));
    auto reply = client.Echo(std::move(request));
    ASSERT_TRUE(reply.ok()) << reply.status();
  }
  // ThreadSanitizer starts a background thread of its own with the first thread a process
  // creates; on transports whose client has no thread of its own that would come later and
  // count as a leak.
  std::thread([] {}).join();
  const Usage self_before = Settled("/proc/self");
  const Usage witness_before = Settled(witness_proc);

  ASSERT_TRUE(StartVictim()) << "the victim server did not start";
  LoadOptions options;
  options.allow_shm = transport.allow_shm;
  options.endpoint = victim_endpoint_;
  options.server_may_die = true;
  options.deadline_share = 0.1;
  options.threads = kVictimThreads;
  options.small_threads = kVictimThreads / 2;
  options.seed = rng_();
  auto victim_load = std::make_unique<Load>(options);
  options.endpoint = witness_endpoint;
  options.server_may_die = false;
  options.deadline_share = 0;  // the witness must see nothing but OK
  options.threads = kWitnessThreads;
  options.small_threads = kWitnessThreads / 2;
  options.seed = rng_();
  auto witness_load = std::make_unique<Load>(options);
  for (int i = 0; i < kClientProcessesPerServer; ++i) {
    StartClient("victim", victim_endpoint_);
    StartClient("witness", witness_endpoint);
  }

  // The chaos: a kill every 150-900 ms, of the victim server (restarted 0-500 ms later on
  // the same endpoint) or of a client process of either server (replaced at once).
  int victim_kills = 0, victim_restarts = 0, victim_client_kills = 0, witness_client_kills = 0;
  const auto end = Clock::now() + std::chrono::seconds(seconds_);
  auto next_kill = Clock::now() + std::chrono::milliseconds(Uniform(150, 900));
  Clock::time_point restart_at;  // of the victim, while it is down
  while (Clock::now() < end) {
    for (ClientProcess& client : victim_clients_) Pump(client);
    for (ClientProcess& client : witness_clients_) Pump(client);
    CheckOverdue(*victim_load, "victim load");
    CheckOverdue(*witness_load, "witness load");
    if (victim_ == nullptr && Clock::now() >= restart_at) {
      ASSERT_TRUE(StartVictim()) << "the victim server did not restart on " << victim_endpoint_;
      ++victim_restarts;
    }
    if (Clock::now() >= next_kill) {
      const int pick = Uniform(0, 2);
      if (pick == 0 && victim_ != nullptr) {
        victim_->Signal(SIGKILL);
        ASSERT_TRUE(victim_->Wait(kExitTimeout).has_value());
        victim_.reset();
        ++victim_kills;
        restart_at = Clock::now() + std::chrono::milliseconds(Uniform(0, 500));
      } else if (pick <= 1) {
        KillClient(victim_clients_, "victim", victim_endpoint_);
        ++victim_client_kills;
      } else {
        KillClient(witness_clients_, "witness", witness_endpoint);
        ++witness_client_kills;
      }
      next_kill = Clock::now() + std::chrono::milliseconds(Uniform(150, 900));
    }
    std::this_thread::sleep_for(20ms);
  }
  if (victim_ == nullptr) {
    ASSERT_TRUE(StartVictim()) << "the victim server did not restart on " << victim_endpoint_;
    ++victim_restarts;
  }
  Say() << "kills: victim server " << victim_kills << " (restarted " << victim_restarts
        << "), victim clients " << victim_client_kills << ", witness clients "
        << witness_client_kills << std::endl;

  // The restarted victim serves again: one more successful call here (bounded).
  const uint64_t victim_ok = victim_load->calls().count("OK");
  const bool victim_serves = Eventually(kHangBound, [&] {
    CheckOverdue(*victim_load, "victim load");
    return victim_load->calls().count("OK") > victim_ok;
  });

  StopClients(victim_clients_, victim_client_calls_, victim_client_connects_);
  StopClients(witness_clients_, witness_client_calls_, witness_client_connects_);
  victim_load->RequestStop();
  witness_load->RequestStop();
  if (!victim_load->WaitStopped(kHangBound + 5s) || !witness_load->WaitStopped(5s)) {
    DieOfHang({victim_load.get(), witness_load.get()});
  }
  const std::string victim_transport = victim_load->transport();
  const std::string witness_transport = witness_load->transport();
  const Counts victim_calls = victim_load->calls().counts();
  const Counts victim_connects = victim_load->connects().counts();
  const Counts witness_calls = witness_load->calls().counts();
  const Counts witness_connects = witness_load->connects().counts();
  std::vector<std::string> unexpected = victim_load->calls().examples();
  for (const Load* load : {victim_load.get(), witness_load.get()}) {
    for (const std::string& e : load->connects().examples()) unexpected.push_back(e);
  }
  for (const std::string& e : witness_load->calls().examples()) unexpected.push_back(e);
  const uint64_t unexpected_here =
      victim_load->calls().unexpected() + victim_load->connects().unexpected() +
      witness_load->calls().unexpected() + witness_load->connects().unexpected();
  victim_load.reset();
  witness_load.reset();

  victim_->Signal(SIGTERM);
  std::optional<int> victim_status = victim_->Wait(kExitTimeout);
  victim_.reset();

  Usage self_after, witness_after;
  const uint64_t rss_limit = std::max(
      witness_before.rss + kRssSlackBytes,
      static_cast<uint64_t>(static_cast<double>(witness_before.rss) * (1 + kRssSlackRatio)));
  const bool self_back = Eventually(kSettleTimeout, [&] {
    self_after = UsageOf("/proc/self");
    return self_after.fds <= self_before.fds && self_after.threads <= self_before.threads;
  });
  const bool witness_back = Eventually(kSettleTimeout, [&] {
    witness_after = UsageOf(witness_proc);
    return witness_after.fds <= witness_before.fds &&
           witness_after.threads <= witness_before.threads &&
           (kSanitized || witness_after.rss <= rss_limit);  // sanitizers keep freed memory
  });

  witness->Signal(SIGTERM);
  std::optional<int> witness_status = witness->Wait(kExitTimeout);
  witness.reset();
  std::vector<std::string> shm_left;
  Eventually(5s, [&] {
    shm_left = testing::FerryFilesInDevShm(pids_);
    return shm_left.empty();
  });
  const std::vector<std::string> runtime_left = testing::FilesIn(runtime_dir_.path());

  Say() << "victim, " << kVictimThreads << " threads here: calls " << FormatCounts(victim_calls)
        << "; connects " << FormatCounts(victim_connects) << std::endl;
  Say() << "witness, " << kWitnessThreads << " threads here: calls "
        << FormatCounts(witness_calls) << "; connects " << FormatCounts(witness_connects)
        << std::endl;
  Say() << "victim client processes: calls " << FormatCounts(victim_client_calls_)
        << "; connects " << FormatCounts(victim_client_connects_) << std::endl;
  Say() << "witness client processes: calls " << FormatCounts(witness_client_calls_)
        << "; connects " << FormatCounts(witness_client_connects_) << std::endl;
  Say() << "this process: before " << Format(self_before) << "; after " << Format(self_after)
        << std::endl;
  Say() << "witness server: before " << Format(witness_before) << "; after "
        << Format(witness_after) << "; RSS limit " << rss_limit / 1024 << " KiB" << std::endl;

  EXPECT_EQ(unexpected_here, 0U) << "calls or connects in this process ended unexpectedly; "
                                    "first examples:" << Join(unexpected);
  Counts witness_failures = witness_calls;
  witness_failures.erase("OK");
  EXPECT_TRUE(witness_failures.empty())
      << "the witness, whose server is never killed, saw " << FormatCounts(witness_failures);
  EXPECT_TRUE(problems_.empty()) << "client processes or the watchdog reported:"
                                 << Join(problems_);
  EXPECT_EQ(victim_transport, transport.channel_transport);
  EXPECT_EQ(witness_transport, transport.channel_transport);
  EXPECT_GT(witness_calls.count("OK") ? witness_calls.at("OK") : 0, 0U);
  EXPECT_TRUE(victim_serves) << "no call succeeded after the victim's last restart";
  ASSERT_TRUE(victim_status.has_value()) << "the victim did not exit on SIGTERM";
  EXPECT_TRUE(WIFEXITED(*victim_status) && WEXITSTATUS(*victim_status) == 0)
      << "victim " << testing::DescribeWaitStatus(*victim_status);
  EXPECT_TRUE(self_back) << "this process did not get its fds and threads back: before "
                         << Format(self_before) << ", after " << Format(self_after);
  EXPECT_TRUE(witness_back) << "the witness server did not come back to its idle usage: before "
                            << Format(witness_before) << ", after " << Format(witness_after)
                            << " (RSS limit " << rss_limit / 1024 << " KiB)";
  ASSERT_TRUE(witness_status.has_value()) << "the witness did not exit on SIGTERM";
  EXPECT_TRUE(WIFEXITED(*witness_status) && WEXITSTATUS(*witness_status) == 0)
      << "witness " << testing::DescribeWaitStatus(*witness_status);
  EXPECT_TRUE(shm_left.empty()) << "left in /dev/shm:" << Join(shm_left);
  EXPECT_TRUE(runtime_left.empty()) << "left in the runtime dir:" << Join(runtime_left);
}

INSTANTIATE_TEST_SUITE_P(
    Transports, Chaos,
    ::testing::Values(
        Transport{"shm", "shm://chaos-witness", "shm://chaos-victim", true, "shm"},
        Transport{"unix", "unix://{dir}/witness.sock", "unix://{dir}/victim.sock", false,
                  "unix"},
        Transport{"tcp", "tcp://127.0.0.1:0", "tcp://127.0.0.1:{port}", false, "tcp"},
        Transport{"tcp_to_shm", "tcp://127.0.0.1:0", "tcp://127.0.0.1:{port}", true, "shm"},
        Transport{"mq", "mq://chaos-witness", "mq://chaos-victim", false, "mq"}),
    TransportName);

}  // namespace
}  // namespace ferry::chaos
