// Mixed-size Echo calls through a shared, self-reconnecting channel.
#include "chaos_load.h"

#include <algorithm>
#include <cstring>
#include <random>
#include <sstream>

#include "chaos_service.ferry.h"

namespace ferry::chaos {
namespace {

namespace fc = ferry::chaos;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Sizes of requests and replies, exactly the round numbers users pick: a 1 MiB payload plus
// the FlatBuffers framing does not fit a 1 MiB slot, which is the point.
constexpr size_t kSizes[] = {64, 4 << 10, 64 << 10, 1 << 20, 16 << 20};
constexpr int kSizeWeights[] = {40, 20, 15, 15, 10};
constexpr int kSmallSizeWeights[] = {70, 30, 0, 0, 0};
constexpr int kExamplesPerOutcome = 3;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

struct Plan {
  size_t request_bytes;
  size_t reply_bytes;
  bool size_hint;  // without one the builder grows through the slot classes
  std::chrono::milliseconds deadline;  // zero: none
  uint8_t fill;
};

Plan MakePlan(std::mt19937_64& rng, bool small, double deadline_share) {
  std::discrete_distribution<int> size =
      small ? std::discrete_distribution<int>(std::begin(kSmallSizeWeights),
                                              std::end(kSmallSizeWeights))
            : std::discrete_distribution<int>(std::begin(kSizeWeights), std::end(kSizeWeights));
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  Plan plan;
  plan.request_bytes = kSizes[size(rng)];
  plan.reply_bytes = unit(rng) < 0.5 ? plan.request_bytes : kSizes[size(rng)];
  plan.size_hint = unit(rng) < 0.8;
  plan.deadline = unit(rng) < deadline_share
                      ? std::chrono::milliseconds(std::uniform_int_distribution<int>(1, 50)(rng))
                      : 0ms;
  plan.fill = static_cast<uint8_t>(rng());
  return plan;
}

std::string Describe(const Plan& plan) {
  std::ostringstream out;
  out << "Echo " << plan.request_bytes << "->" << plan.reply_bytes << " B"
      << (plan.size_hint ? "" : " (no size hint)");
  if (plan.deadline.count() > 0) out << " deadline " << plan.deadline.count() << " ms";
  return out.str();
}

// The call's status, or WRONG_REPLY when an OK reply does not carry what was asked for.
std::string Call(Channel& channel, const Plan& plan, uint64_t seq, std::string& detail) {
  fc::ChaosService::Client client(channel);
  auto request = client.NewEchoRequest(plan.size_hint ? plan.request_bytes + 256 : 0);
  uint8_t* bytes = nullptr;
  auto data = request.fbb().CreateUninitializedVector(plan.request_bytes, &bytes);
  std::memset(bytes, plan.fill, plan.request_bytes);
  request.Finish(fc::CreatePayload(request.fbb(), seq, plan.fill, plan.reply_bytes, data));
  CallOptions options;
  options.deadline = plan.deadline;
  auto reply = client.Echo(std::move(request), options);
  if (!reply.ok()) {
    detail = reply.status().ToString();
    return std::string(StatusCodeName(reply.status().code()));
  }
  const auto* got = (*reply)->data();
  const size_t size = got == nullptr ? 0 : got->size();
  const uint8_t expected = static_cast<uint8_t>(plan.fill + 1);
  if ((*reply)->seq() != seq || size != plan.reply_bytes ||
      (size > 0 && !std::all_of(got->begin(), got->end(),
                                [&](uint8_t b) { return b == expected; }))) {
    detail = "reply seq " + std::to_string((*reply)->seq()) + " (sent " + std::to_string(seq) +
             "), " + std::to_string(size) + " bytes, content " +
             (size > 0 && got->Get(0) == expected ? "partly" : "not") + " as asked";
    return "WRONG_REPLY";
  }
  return "OK";
}

bool Expected(const std::string& outcome, const Plan& plan, bool server_may_die) {
  if (outcome == "OK") return true;
  if (outcome == "UNAVAILABLE") return server_may_die;
  if (outcome == "DEADLINE_EXCEEDED" || outcome == "RESOURCE_EXHAUSTED") {
    return plan.deadline.count() > 0;
  }
  return false;
}

}  // namespace

void Tally::Add(const std::string& outcome, bool expected, const std::string& example) {
  std::lock_guard lock(mutex_);
  if (expected) {
    ++counts_[outcome];
    return;
  }
  ++counts_[outcome + "(unexpected)"];
  ++unexpected_;
  if (examples_per_outcome_[outcome]++ < kExamplesPerOutcome) examples_.push_back(example);
}

std::map<std::string, uint64_t> Tally::counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

uint64_t Tally::count(const std::string& outcome) const {
  std::lock_guard lock(mutex_);
  auto it = counts_.find(outcome);
  return it == counts_.end() ? 0 : it->second;
}

uint64_t Tally::unexpected() const {
  std::lock_guard lock(mutex_);
  return unexpected_;
}

std::vector<std::string> Tally::examples() const {
  std::lock_guard lock(mutex_);
  return examples_;
}

std::string FormatCounts(const std::map<std::string, uint64_t>& counts) {
  std::string text;
  for (const auto& [outcome, n] : counts) {
    if (!text.empty()) text += ' ';
    text += outcome + "=" + std::to_string(n);
  }
  return text.empty() ? "none" : text;
}

std::map<std::string, uint64_t> ParseCounts(const std::string& text) {
  std::map<std::string, uint64_t> counts;
  std::istringstream in(text);
  std::string item;
  while (in >> item) {
    if (size_t eq = item.find('='); eq != std::string::npos) {
      counts[item.substr(0, eq)] = std::stoull(item.substr(eq + 1));
    }
  }
  return counts;
}

void AddCounts(std::map<std::string, uint64_t>& into,
               const std::map<std::string, uint64_t>& add) {
  for (const auto& [outcome, n] : add) into[outcome] += n;
}

Load::Load(LoadOptions options)
    : options_(std::move(options)), activity_(new Activity[options_.threads]) {
  std::lock_guard lock(mutex_);
  running_ = options_.threads;
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this, i] { Run(i); });
}

Load::~Load() {
  RequestStop();
  for (std::thread& thread : threads_) thread.join();
}

void Load::RequestStop() { stop_.store(true); }

bool Load::WaitStopped(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return stopped_.wait_for(lock, timeout, [&] { return running_ == 0; });
}

std::vector<std::string> Load::Overdue(std::chrono::milliseconds bound) const {
  std::vector<std::string> overdue;
  const int64_t now = NowNs();
  for (int i = 0; i < options_.threads; ++i) {
    const Activity& a = activity_[i];
    const int what = a.what.load();
    const int64_t since = a.since_ns.load();
    if (what == 0 || now - since < std::chrono::nanoseconds(bound).count()) continue;
    std::ostringstream line;
    line << "thread " << i << " on " << options_.endpoint << ": ";
    if (what == 1) {
      line << "Connect";
    } else {
      line << "Echo " << a.request_bytes.load() << "->" << a.reply_bytes.load() << " B";
      if (a.deadline_ms.load() > 0) line << " deadline " << a.deadline_ms.load() << " ms";
    }
    line << " running for " << (now - since) / 1000000 << " ms";
    overdue.push_back(line.str());
  }
  return overdue;
}

std::string Load::transport() const {
  std::lock_guard lock(mutex_);
  return transport_;
}

std::optional<Load::Current> Load::CurrentChannel(Activity& activity) {
  std::lock_guard lock(mutex_);
  if (channel_) return Current{*channel_, generation_};
  ConnectOptions options;
  options.allow_shm = options_.allow_shm;
  activity.since_ns.store(NowNs());
  activity.what.store(1);
  Result<Channel> channel = Connect(options_.endpoint, options);
  activity.what.store(0);
  const std::string outcome =
      channel.ok() ? "OK" : std::string(StatusCodeName(channel.status().code()));
  const bool expected = channel.ok() || (options_.server_may_die && outcome == "UNAVAILABLE");
  connects_.Add(outcome, expected, "Connect " + options_.endpoint + ": " +
                                       channel.status().ToString());
  if (!channel.ok()) return std::nullopt;
  if (transport_.empty()) transport_ = std::string(channel->transport());
  channel_ = *channel;
  return Current{*channel_, ++generation_};
}

void Load::DropChannel(uint64_t generation) {
  std::lock_guard lock(mutex_);
  if (generation == generation_) channel_.reset();
}

void Load::Run(int index) {
  std::mt19937_64 rng(options_.seed * 1000003 + static_cast<uint64_t>(index));
  Activity& activity = activity_[index];
  uint64_t seq = static_cast<uint64_t>(index) << 48;
  while (!stop_.load()) {
    std::optional<Current> current = CurrentChannel(activity);
    if (!current) {  // the server is down: it comes back within a second or so
      std::this_thread::sleep_for(10ms);
      continue;
    }
    const Plan plan = MakePlan(rng, index < options_.small_threads, options_.deadline_share);
    activity.request_bytes.store(plan.request_bytes);
    activity.reply_bytes.store(plan.reply_bytes);
    activity.deadline_ms.store(plan.deadline.count());
    activity.since_ns.store(NowNs());
    activity.what.store(2);
    std::string detail;
    const std::string outcome = Call(current->channel, plan, ++seq, detail);
    activity.what.store(0);
    calls_.Add(outcome, Expected(outcome, plan, options_.server_may_die),
               Describe(plan) + " on " + options_.endpoint + ": " + detail);
    if (outcome == "UNAVAILABLE") DropChannel(current->generation);
  }
  std::lock_guard lock(mutex_);
  channel_.reset();  // the last thread out closes the connection
  if (--running_ == 0) stopped_.notify_all();
}

}  // namespace ferry::chaos
