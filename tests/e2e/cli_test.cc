// The `ferry` tool against a real ferry_test_server, on every transport: list, describe,
// call (every method kind, JSON in and out), health and stats, and the exit status and message
// for each kind of bad input.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "support/process.h"
#include "support/shm_files.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::HelperPath;

struct Output {
  int exit = -1;
  std::string text;  // stdout and stderr, as they came
};

// Runs `/bin/sh -c "<ferry> <args>"` (with `input` on its stdin) and collects what it printed.
Output Ferry(const std::string& args, const std::string& input = "") {
  std::string command = "'" + std::string(FERRY_CLI_PATH) + "' " + args + " 2>&1";
  if (!input.empty()) command = "printf '%s' '" + input + "' | " + command;
  ChildProcess shell = ChildProcess::Exec({"/bin/sh", "-c", command + "; echo \"exit=$?\""});
  Output output;
  while (std::optional<std::string> line = shell.ReadLine(30s)) {
    if (line->rfind("exit=", 0) == 0) {
      output.exit = std::stoi(line->substr(5));
    } else {
      output.text += *line + "\n";
    }
  }
  EXPECT_TRUE(shell.Wait(10s).has_value()) << "ferry " << args << " did not finish";
  return output;
}

struct Case {
  std::string name;
  std::string listen;  // "{dir}": the test's runtime dir
  bool allow_shm;
};
void PrintTo(const Case& c, std::ostream* out) { *out << c.name; }

class FerryCli : public ::testing::TestWithParam<Case> {
 protected:
  // Starts ferry_test_server with `flags`; returns the endpoint it listens on.
  std::string Serve(std::vector<std::string> flags = {}) {
    std::string listen = GetParam().listen;
    if (const size_t at = listen.find("{dir}"); at != std::string::npos) {
      listen.replace(at, 5, dir_.path());
    }
    std::vector<std::string> argv = {HelperPath("ferry_test_server")};
    if (!GetParam().allow_shm) argv.push_back("--no-shm");
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back(listen);
    server_.emplace(ChildProcess::Exec(argv));
    std::optional<std::string> ready = server_->ReadLine(10s);
    if (!ready || ready->rfind("ready ", 0) != 0) {
      ADD_FAILURE() << "ferry_test_server did not start";
      return "";
    }
    return (GetParam().allow_shm ? "" : "--no-shm ") + ready->substr(6);
  }

  void TearDown() override {
    if (!server_) return;
    server_->Signal(SIGTERM);
    std::optional<int> status = server_->Wait(10s);
    ASSERT_TRUE(status.has_value()) << "ferry_test_server did not exit on SIGTERM";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  }

  testing::ScopedRuntimeDir dir_;
  std::optional<ChildProcess> server_;
};

TEST_P(FerryCli, ListsDescribesAndCallsEveryKindOfMethodInJson) {
  const std::string at = Serve();
  ASSERT_FALSE(at.empty());

  Output list = Ferry("list " + at);
  EXPECT_EQ(list.exit, 0) << list.text;
  EXPECT_NE(list.text.find("ferry.test.TestService\n"), std::string::npos) << list.text;
  EXPECT_NE(list.text.find("Watch  server-streaming  ferry.test.AddRequest -> "
                           "ferry.test.AddReply"),
            std::string::npos)
      << list.text;
  EXPECT_NE(list.text.find("ferry.Health\n"), std::string::npos) << list.text;

  Output type = Ferry("describe " + at + " ferry.test.Digest");
  EXPECT_EQ(type.exit, 0) << type.text;
  EXPECT_NE(type.text.find("table ferry.test.Digest {\n  size:ulong (id: 0);"), std::string::npos)
      << type.text;
  Output method = Ferry("describe " + at + " ferry.test.TestService.Upload");
  EXPECT_EQ(method.exit, 0) << method.text;
  EXPECT_NE(method.text.find("Upload(ferry.test.Blob):ferry.test.Digest (streaming: \"client\");"),
            std::string::npos)
      << method.text;
  EXPECT_NE(method.text.find("data:[ubyte] (id: 1);"), std::string::npos) << method.text;

  Output unary = Ferry("call " + at + " ferry.test.TestService.Add '{\"a\": 2, \"b\": 40}'");
  EXPECT_EQ(unary.exit, 0) << unary.text;
  EXPECT_EQ(unary.text, "{\n  \"sum\": 42\n}\n");

  Output server_stream =
      Ferry("call " + at + " ferry.test.TestService.Watch -d '{\"a\": 3, \"b\": 10}'");
  EXPECT_EQ(server_stream.exit, 0) << server_stream.text;
  EXPECT_EQ(server_stream.text, "{\"sum\": 10}\n{\"sum\": 11}\n{\"sum\": 12}\n");

  Output client_stream = Ferry("call " + at + " ferry.test.TestService.Upload",
                               "{\"seq\": 1, \"data\": [1, 2, 3]}\n\n{\"data\": [4]}\n");
  EXPECT_EQ(client_stream.exit, 0) << client_stream.text;
  EXPECT_NE(client_stream.text.find("\"size\": 4,"), std::string::npos) << client_stream.text;
  EXPECT_NE(client_stream.text.find("\"sum\": 10"), std::string::npos) << client_stream.text;

  Output bidi = Ferry("call " + at + " ferry.test.TestService.Chat",
                      "{\"seq\": 7, \"data\": [9]}\n{\"seq\": 8}\n");
  EXPECT_EQ(bidi.exit, 0) << bidi.text;
  // One line per message (flatbuffers' compact printer puts no space after a comma).
  EXPECT_EQ(bidi.text, "{\"seq\": 7,\"data\": [9]}\n{\"seq\": 8,\"data\": []}\n");

  Output oneway = Ferry("call " + at + " ferry.test.TestService.Note '{\"text\": \"hi\"}'");
  EXPECT_EQ(oneway.exit, 0) << oneway.text;
  EXPECT_EQ(oneway.text, "");

  Output stats = Ferry("stats " + at);
  EXPECT_EQ(stats.exit, 0) << stats.text;
  EXPECT_NE(stats.text.find("ferry.test.TestService.Watch"), std::string::npos) << stats.text;
  EXPECT_NE(stats.text.find("OK=1"), std::string::npos) << stats.text;
}

TEST_P(FerryCli, BadInputGetsALocatedErrorAndTheStatusCodeAsExitStatus) {
  const std::string at = Serve();
  ASSERT_FALSE(at.empty());

  Output bad_json = Ferry("call " + at + " ferry.test.TestService.Add '{\"a\": 1,\n \"c\": 2}'");
  EXPECT_EQ(bad_json.exit, 3) << bad_json.text;
  EXPECT_NE(bad_json.text.find("INVALID_ARGUMENT: the request: not a ferry.test.AddRequest: 2: "),
            std::string::npos)
      << bad_json.text;
  EXPECT_NE(bad_json.text.find("unknown field: c"), std::string::npos) << bad_json.text;

  Output bad_line = Ferry("call " + at + " ferry.test.TestService.Upload",
                          "{\"seq\": 1}\n{\"seq\": \"x\"}\n");
  EXPECT_EQ(bad_line.exit, 3) << bad_line.text;
  EXPECT_NE(bad_line.text.find("stdin line 2: not a ferry.test.Blob"), std::string::npos)
      << bad_line.text;

  Output no_method = Ferry("call " + at + " ferry.test.TestService.Nope");
  EXPECT_EQ(no_method.exit, 5) << no_method.text;
  EXPECT_NE(no_method.text.find("no method ferry.test.TestService.Nope"), std::string::npos);

  Output no_type = Ferry("describe " + at + " ferry.test.Nope");
  EXPECT_EQ(no_type.exit, 5) << no_type.text;

  Output failed = Ferry("call " + at + " ferry.test.TestService.FailWith '{\"a\": 9, \"b\": 3}'");
  EXPECT_EQ(failed.exit, 9) << failed.text;
  EXPECT_NE(failed.text.find("FAILED_PRECONDITION: xxx"), std::string::npos) << failed.text;

  Output late = Ferry("--deadline 100ms call " + at + " ferry.test.TestService.Block");
  EXPECT_EQ(late.exit, 4) << late.text;

  Output usage = Ferry("call " + at);
  EXPECT_EQ(usage.exit, 3) << usage.text;
  EXPECT_NE(usage.text.find("usage: ferry"), std::string::npos) << usage.text;
}

TEST_P(FerryCli, HealthFollowsSetServingAndBuiltinsCanBeTurnedOff) {
  const std::string at = Serve({"--not-serving=ferry.test.TestService"});
  ASSERT_FALSE(at.empty());
  Output whole = Ferry("health " + at);
  EXPECT_EQ(whole.exit, 0) << whole.text;
  EXPECT_EQ(whole.text, "SERVING\n");
  Output service = Ferry("health " + at + " ferry.test.TestService");
  EXPECT_EQ(service.exit, 14) << service.text;
  EXPECT_EQ(service.text, "NOT_SERVING\n");
  Output unknown = Ferry("health " + at + " ferry.test.Unserved");
  EXPECT_EQ(unknown.exit, 5) << unknown.text;
}

TEST_P(FerryCli, ServerWithoutBuiltinsSaysSo) {
  const std::string at = Serve({"--no-reflection", "--no-health"});
  ASSERT_FALSE(at.empty());
  Output list = Ferry("list " + at);
  EXPECT_EQ(list.exit, 12) << list.text;
  EXPECT_NE(list.text.find("ServerOptions::reflection is off"), std::string::npos) << list.text;
  Output health = Ferry("health " + at);
  EXPECT_EQ(health.exit, 12) << health.text;
  EXPECT_NE(health.text.find("ServerOptions::health is off"), std::string::npos) << health.text;
}

INSTANTIATE_TEST_SUITE_P(Transports, FerryCli,
                         ::testing::Values(Case{"shm", "shm://cli", true},
                                           Case{"unix", "unix://{dir}/cli.sock", false},
                                           Case{"tcp", "tcp://127.0.0.1:0", false},
                                           Case{"mq", "mq://cli", false}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

TEST(FerryCliNoServer, ConnectFailureExitsUnavailable) {
  testing::ScopedRuntimeDir dir;
  Output output = Ferry("list unix://" + dir.path() + "/nobody.sock");
  EXPECT_EQ(output.exit, 14) << output.text;
  Output help = Ferry("--help");
  EXPECT_EQ(help.exit, 0);
  EXPECT_NE(help.text.find("call <endpoint> <pkg.Service.Method>"), std::string::npos);
}

}  // namespace
}  // namespace ferry
