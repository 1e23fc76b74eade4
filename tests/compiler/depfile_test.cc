// The depfile lets CMake regenerate when a schema or anything it includes changes.
#include <gtest/gtest.h>

#include <sstream>

#include "compiler.h"
#include "test_util.h"

namespace ferryc {
namespace {

TEST(FerrycDepfile, ListsEveryOutputThenTheInputAndItsIncludesRecursively) {
  testing::ScratchDir dir;
  const std::string base = dir.Write("lib/base.idl", "namespace lib;\ntable Base { a:int; }\n");
  const std::string mid =
      dir.Write("lib/mid.idl", "include \"base.idl\";\nnamespace lib;\ntable Mid { b:Base; }\n");
  const std::string top = dir.Write("top.idl",
                                    "include \"mid.idl\";\nnamespace top;\ntable T { m:lib.Mid; }\n"
                                    "rpc_service S { Get(T):T; }\n");
  const std::string out = (dir.path() / "out").string();
  std::ostringstream err;

  int status = RunCommandLine({"-o", out, "-I", (dir.path() / "lib").string(), "--depfile",
                               out + "/top.d", "--flatc", FERRY_FLATC_PATH, top},
                              err);

  ASSERT_EQ(status, 0) << err.str();
  EXPECT_EQ(testing::ReadText(out + "/top.d"),
            out + "/top_generated.h \\\n" + out + "/top.ferry.h \\\n" + out +
                "/top.ferry.cc: \\\n  " + top + " \\\n  " + base + " \\\n  " + mid + "\n");
  EXPECT_EQ(testing::ListDir(out),
            (std::vector<std::string>{"top.d", "top.ferry.cc", "top.ferry.h", "top_generated.h"}));
}

TEST(FerrycDepfile, OneDepfileCoversSeveralInputs) {
  testing::ScratchDir dir;
  const std::string a = dir.Write("a.idl", "namespace a;\ntable A { x:int; }\n");
  const std::string b = dir.Write("b.fbs", "namespace b;\ntable B { y:int; }\n");
  const std::string out = (dir.path() / "out").string();
  std::ostringstream err;

  int status = RunCommandLine(
      {"-o", out, "--depfile", out + "/all.d", "--flatc", FERRY_FLATC_PATH, a, b}, err);

  ASSERT_EQ(status, 0) << err.str();
  std::string depfile = testing::ReadText(out + "/all.d");
  EXPECT_NE(depfile.find(out + "/a.ferry.cc \\\n" + out + "/b_generated.h"), std::string::npos)
      << depfile;
  EXPECT_NE(depfile.find(":"), std::string::npos);
  EXPECT_NE(depfile.find("  " + a + " \\\n  " + b + "\n"), std::string::npos) << depfile;
}

TEST(FerrycDepfile, SpacesAndDollarsAreEscapedForMake) {
  EXPECT_EQ(DepfileText({"/o/x y.h"}, {"/s/a$b.idl"}), "/o/x\\ y.h: \\\n  /s/a$$b.idl\n");
}

}  // namespace
}  // namespace ferryc
