// Where the runtime's log lines go: a user's sink with the structured fields, or stderr.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "os/log.h"

namespace ferry::internal {
namespace {

struct Captured {
  LogLevel level;
  std::string message, endpoint, method;
  int64_t peer_pid;
  StatusCode status;
};

class LogSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogSink([this](const LogRecord& record) {
      lines_.push_back({record.level, std::string(record.message), std::string(record.endpoint),
                        std::string(record.method), record.peer != nullptr ? record.peer->pid : -2,
                        record.status});
    });
  }
  void TearDown() override { SetLogSink({}); }
  std::vector<Captured> lines_;
};

TEST_F(LogSinkTest, ASinkGetsEveryFieldOfALine) {
  const Peer peer{.pid = 42, .uid = 1000, .gid = 1000, .address = ""};
  LogLimiter limiter;
  limiter.Log(LogRecord{.level = LogLevel::kWarning,
                        .message = "rejected a call",
                        .endpoint = "shm://calc",
                        .peer = &peer,
                        .method = "demo.Calc.Add",
                        .status = StatusCode::kInvalidArgument});
  LogLine("a plain line");
  ASSERT_EQ(lines_.size(), 2U);
  EXPECT_EQ(lines_[0].message, "rejected a call");
  EXPECT_EQ(lines_[0].endpoint, "shm://calc");
  EXPECT_EQ(lines_[0].method, "demo.Calc.Add");
  EXPECT_EQ(lines_[0].peer_pid, 42);
  EXPECT_EQ(lines_[0].status, StatusCode::kInvalidArgument);
  EXPECT_EQ(lines_[1].message, "a plain line");
  EXPECT_EQ(lines_[1].peer_pid, -2);  // no peer
}

TEST_F(LogSinkTest, TheLimitStillHoldsAndTheNextLineCountsWhatWasDropped) {
  LogLimiter limiter(2);
  for (int i = 0; i < 5; ++i) limiter.Log("flood");
  EXPECT_EQ(lines_.size(), 2U);
  EXPECT_EQ(limiter.suppressed(), 3U);
}

TEST(LogFormat, TheDefaultLineNamesTheKnownFieldsOnly) {
  const Peer peer{.pid = 7, .uid = 0, .gid = 0, .address = ""};
  const std::string prefix = "ferry[" + std::to_string(getpid()) + "]: ";
  EXPECT_EQ(FormatLogRecord(LogRecord{.message = "hello"}), prefix + "hello");
  EXPECT_EQ(FormatLogRecord(LogRecord{.message = "rejected",
                                      .endpoint = "unix:///s",
                                      .peer = &peer,
                                      .method = "a.B.C",
                                      .status = StatusCode::kUnimplemented}),
            prefix +
                "rejected [endpoint=unix:///s peer_pid=7 peer_uid=0 method=a.B.C "
                "status=UNIMPLEMENTED]");
  const Peer remote{.address = "10.0.0.1:4000"};
  EXPECT_EQ(FormatLogRecord(LogRecord{.message = "x", .peer = &remote}),
            prefix + "x [peer=10.0.0.1:4000]");
}

}  // namespace
}  // namespace ferry::internal
