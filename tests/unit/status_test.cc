#include "ferry/result.h"
#include "ferry/status.h"

#include <gtest/gtest.h>

#include <sstream>

#include "call/endpoint.h"
#include "support/shm_files.h"

namespace ferry {
namespace {

TEST(Status, OkPrintsAsOk) {
  EXPECT_TRUE(Status::Ok().ok());
  EXPECT_EQ(Status::Ok().ToString(), "OK");
}

TEST(Status, ErrorPrintsCodeNameAndMessage) {
  std::ostringstream out;
  out << Status::DeadlineExceeded("too slow");
  EXPECT_EQ(out.str(), "DEADLINE_EXCEEDED: too slow");
}

TEST(Result, HoldsAValueOrAStatus) {
  Result<int> value = 7;
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, 7);
  Result<int> error = Status::NotFound("nope");
  EXPECT_FALSE(error.ok());
  EXPECT_EQ(error.status().code(), StatusCode::kNotFound);
}

TEST(Result, BuiltFromAnOkStatusBecomesInternal) {
  Result<int> broken = Status::Ok();
  EXPECT_EQ(broken.status().code(), StatusCode::kInternal);
}

TEST(ParseEndpoint, ShmNameMapsToASocketInTheRuntimeDir) {
  testing::ScopedRuntimeDir dir;
  Result<internal::Endpoint> endpoint = internal::ParseEndpoint("shm://calc");
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_EQ(endpoint->socket_path, dir.path() + "/calc.sock");
}

TEST(ParseEndpoint, RejectsMalformedEndpoints) {
  testing::ScopedRuntimeDir dir;
  for (const char* bad : {"calc", "shm://", "shm://a/b", "shm://.hidden", "ftp://x",
                          "shm://name with space"}) {
    EXPECT_EQ(internal::ParseEndpoint(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace ferry
