// Two processes built from two versions of one schema (evolution/server.idl and
// evolution/client.idl): on every transport, the compatible differences work and each
// incompatible one fails its calls with a status naming the method and the types
// (evolution_client checks each and prints what did not hold).
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

struct Case {
  std::string name;
  std::string listen;  // "{dir}": the test's runtime dir
  bool allow_shm;
};

class SchemaEvolution : public ::testing::TestWithParam<Case> {};

TEST_P(SchemaEvolution, CompatibleChangesWorkAndIncompatibleOnesFailNamingMethodAndTypes) {
  testing::ScopedRuntimeDir dir;
  std::string listen = GetParam().listen;
  if (const size_t at = listen.find("{dir}"); at != std::string::npos) {
    listen.replace(at, 5, dir.path());
  }
  ChildProcess server = ChildProcess::Exec({HelperPath("evolution_server"), listen});
  std::optional<std::string> ready = server.ReadLine(10s);
  ASSERT_TRUE(ready && ready->rfind("ready ", 0) == 0) << "evolution_server did not start";

  std::vector<std::string> args = {HelperPath("evolution_client")};
  if (!GetParam().allow_shm) args.push_back("--no-shm");
  args.push_back(ready->substr(6));
  ChildProcess client = ChildProcess::Exec(args);
  std::string failures;
  while (std::optional<std::string> line = client.ReadLine(60s)) failures += *line + "\n";
  std::optional<int> status = client.Wait(60s);
  ASSERT_TRUE(status.has_value()) << "evolution_client did not finish";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << testing::DescribeWaitStatus(*status) << "\n"
      << failures;

  server.Signal(SIGTERM);
  std::optional<int> server_status = server.Wait(10s);
  ASSERT_TRUE(server_status.has_value()) << "evolution_server did not exit on SIGTERM";
  EXPECT_TRUE(WIFEXITED(*server_status) && WEXITSTATUS(*server_status) == 0);
}

INSTANTIATE_TEST_SUITE_P(Transports, SchemaEvolution,
                         ::testing::Values(Case{"shm", "shm://evolution", true},
                                           Case{"unix", "unix://{dir}/evolution.sock", false},
                                           Case{"tcp", "tcp://127.0.0.1:0", false},
                                           Case{"mq", "mq://evolution", false}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace ferry
