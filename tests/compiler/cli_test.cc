// Runs the real ferryc binary: exit statuses, stderr, and what lands in the output directory.
#include <gtest/gtest.h>

#include "test_util.h"

namespace ferryc {
namespace {

using testing::ListDir;
using testing::RunProcess;

TEST(FerrycCli, GoodSchemaWritesAllThreeOutputsAndExitsZero) {
  testing::ScratchDir dir;
  const std::string input =
      dir.Write("calc.idl",
                "namespace demo;\ntable Req { a:int; }\ntable Rep { b:int; }\n"
                "rpc_service Calc { Add(Req):Rep; Log(Req):Rep (oneway); }\n");
  const std::string out = (dir.path() / "out").string();
  std::string err;

  int status = RunProcess({FERRYC_PATH, "-o", out, "--flatc", FERRY_FLATC_PATH, input}, &err);

  EXPECT_EQ(status, 0);
  EXPECT_EQ(err, "");
  EXPECT_EQ(ListDir(out),
            (std::vector<std::string>{"calc.ferry.cc", "calc.ferry.h", "calc_generated.h"}));
  std::string generated = testing::ReadText(out + "/calc_generated.h");
  EXPECT_NE(generated.find("struct Req FLATBUFFERS_FINAL_CLASS"), std::string::npos);
  EXPECT_EQ(generated.find("ferry_attributes"), std::string::npos);
}

TEST(FerrycCli, GenIncludesWritesEveryIncludedSchemaAsItsOwnOutputs) {
  // top.idl includes common/units.idl (found through -I), which includes money.idl beside it.
  testing::ScratchDir dir;
  const std::string input = dir.Write("api/top.idl",
                                      "include \"common/units.idl\";\nnamespace t;\n"
                                      "rpc_service S { Get(u.Qty):u.Qty; }\n");
  dir.Write("lib/common/units.idl",
            "include \"money.idl\";\nnamespace u;\ntable Qty { n:int; price:m.Money; }\n");
  dir.Write("lib/common/money.idl", "namespace m;\ntable Money { cents:long; }\n");
  const std::string out = (dir.path() / "out").string();
  std::string err;

  int status = RunProcess({FERRYC_PATH, "-o", out, "--gen-includes", "--flatc-arg",
                           "--gen-object-api", "--flatc", FERRY_FLATC_PATH, "-I",
                           (dir.path() / "lib").string(), input},
                          &err);

  EXPECT_EQ(status, 0) << err;
  EXPECT_EQ(ListDir(out), (std::vector<std::string>{
                              "money.ferry.cc", "money.ferry.h", "money_generated.h",
                              "top.ferry.cc", "top.ferry.h", "top_generated.h", "units.ferry.cc",
                              "units.ferry.h", "units_generated.h"}));
  EXPECT_NE(testing::ReadText(out + "/units_generated.h").find("struct QtyT "), std::string::npos);
}

TEST(FerrycCli, AFlatcOptionThatWouldMoveTheHeaderIsAUsageError) {
  testing::ScratchDir dir;
  const std::string input = dir.Write("s.idl", "namespace s;\ntable T { x:int; }\n");
  std::string err;

  int status = RunProcess(
      {FERRYC_PATH, "-o", (dir.path() / "out").string(), "--flatc-arg", "--keep-prefix", input},
      &err);

  EXPECT_EQ(status, 2);
  EXPECT_NE(err.find("flatc option --keep-prefix cannot go through ferryc"), std::string::npos)
      << err;
}

TEST(FerrycCli, BadSchemaExitsOneWithALocatedErrorAndWritesNothing) {
  testing::ScratchDir dir;
  const std::string input =
      dir.Write("bad.idl",
                "namespace demo;\ntable Req { a:int; }\n"
                "rpc_service Calc {\n  Add(Req):Req (streaming: \"both\");\n}\n");
  const std::string out = (dir.path() / "out").string();
  std::string err;

  int status = RunProcess({FERRYC_PATH, "-o", out, "--depfile", out + "/bad.d", input}, &err);

  EXPECT_EQ(status, 1);
  EXPECT_EQ(err, input +
                     ":4:3: error: unknown streaming value \"both\" for method 'Add'; "
                     "expected \"none\", \"server\", \"client\" or \"bidi\"\n");
  EXPECT_EQ(ListDir(out), std::vector<std::string>{});
}

TEST(FerrycCli, UsageErrorsExitTwo) {
  testing::ScratchDir dir;
  const std::string input = dir.Write("ok.idl", "namespace demo;\ntable Req { a:int; }\n");
  const std::string out = (dir.path() / "out").string();
  std::string err;

  EXPECT_EQ(RunProcess({FERRYC_PATH, "-o", out}, &err), 2);
  EXPECT_NE(err.find("no input files"), std::string::npos) << err;
  EXPECT_EQ(RunProcess({FERRYC_PATH, input}, &err), 2);
  EXPECT_NE(err.find("missing -o"), std::string::npos) << err;
  EXPECT_EQ(RunProcess({FERRYC_PATH, "-o", out, "--frobnicate", input}, &err), 2);
  EXPECT_NE(err.find("unknown option --frobnicate"), std::string::npos) << err;
  EXPECT_EQ(RunProcess({FERRYC_PATH, "-o", out, input + ".missing.idl"}, &err), 2);
  EXPECT_NE(err.find("cannot read"), std::string::npos) << err;
  EXPECT_EQ(ListDir(out), std::vector<std::string>{});
}

TEST(FerrycCli, FlatcThatCannotRunIsAnErrorAndWritesNothing) {
  testing::ScratchDir dir;
  const std::string input = dir.Write("ok.idl", "namespace demo;\ntable Req { a:int; }\n");
  const std::string out = (dir.path() / "out").string();
  std::string err;

  int status = RunProcess({FERRYC_PATH, "-o", out, "--flatc", "/nonexistent/flatc", input}, &err);

  EXPECT_EQ(status, 1);
  EXPECT_EQ(err, input + ": error: cannot run flatc (/nonexistent/flatc)\n");
  EXPECT_EQ(ListDir(out), std::vector<std::string>{});
}

}  // namespace
}  // namespace ferryc
