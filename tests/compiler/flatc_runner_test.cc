// The flatc binary run: flatc must see the user's schema as flatc would on the original file
// (includes, include cycles, a BOM), and its errors must name the user's files.
#include "flatc_runner.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "schema_model.h"
#include "test_util.h"

namespace ferryc {
namespace {

// What ferryc's own parse found the schema to include (RunFlatc's `closure`).
std::vector<std::string> Closure(const std::string& input,
                                 const std::vector<std::string>& include_dirs = {}) {
  LoadResult loaded = LoadSchema(input, include_dirs);
  EXPECT_TRUE(loaded.schema.has_value());
  return loaded.schema ? loaded.schema->dependencies : std::vector<std::string>{};
}

std::string Messages(const FlatcOutput& output) {
  std::string text;
  for (const Diagnostic& d : output.diagnostics) text += FormatDiagnostic(d) + "\n";
  return text;
}

TEST(FerrycFlatcRunner, SchemasThatIncludeEachOtherWorkAsWithPlainFlatc) {
  testing::ScratchDir dir;
  const std::string a = dir.Write("a.fbs",
                                  "include \"b.fbs\";\nnamespace a;\ntable A { b:bb.B; }\n"
                                  "rpc_service SA { Get(A):bb.B (oneway); }\n");
  dir.Write("b.fbs",
            "include \"a.fbs\";\nnamespace bb;\ntable B { x:int; }\n"
            "rpc_service SB { Get(B):a.A; }\n");

  FlatcOutput output = RunFlatc(FERRY_FLATC_PATH, a, a, {}, Closure(a));

  EXPECT_TRUE(output.ok) << Messages(output);
  EXPECT_NE(output.header.find("struct A FLATBUFFERS_FINAL_CLASS"), std::string::npos);
  EXPECT_NE(output.header.find("#include \"b_generated.h\""), std::string::npos);
}

TEST(FerrycFlatcRunner, ACycleThroughAnotherDirectoryFoundThroughAnIncludeDirWorks) {
  // a.fbs includes sub/b.fbs, which includes a.fbs again, found through -I <dir of a.fbs>.
  testing::ScratchDir dir;
  const std::string a = dir.Write("a.fbs",
                                  "include \"sub/b.fbs\";\nnamespace cyc;\ntable A { b:B; }\n"
                                  "rpc_service S { Get(A):B; }\n");
  const std::string b =
      dir.Write("sub/b.fbs", "include \"a.fbs\";\nnamespace cyc;\ntable B { x:int; }\n");
  const std::vector<std::string> dirs = {dir.path().string()};

  FlatcOutput top = RunFlatc(FERRY_FLATC_PATH, a, a, dirs, Closure(a, dirs));
  // The included schema on its own, as --gen-includes compiles it (its includer's directory
  // is where its includes are looked for too).
  FlatcOutput included = RunFlatc(FERRY_FLATC_PATH, b, b, dirs, Closure(b, dirs));

  EXPECT_TRUE(top.ok) << Messages(top);
  EXPECT_NE(top.header.find("#include \"b_generated.h\""), std::string::npos);
  EXPECT_TRUE(included.ok) << Messages(included);
  EXPECT_NE(included.header.find("struct B FLATBUFFERS_FINAL_CLASS"), std::string::npos);
}

TEST(FerrycFlatcRunner, ExtraArgumentsReachFlatc) {
  testing::ScratchDir dir;
  const std::string input = dir.Write("s.fbs", "namespace s;\ntable T { x:int; }\n");

  FlatcOutput output =
      RunFlatc(FERRY_FLATC_PATH, input, input, {}, Closure(input), {"--gen-object-api"});

  EXPECT_TRUE(output.ok) << Messages(output);
  EXPECT_NE(output.header.find("struct TT "), std::string::npos);  // the object API's type
}

TEST(FerrycFlatcRunner, OptionsThatWouldMoveOrRenameTheHeaderAreRefused) {
  for (const char* arg : {"-o", "--filename-suffix=_x", "--keep-prefix", "--python", "x.fbs"}) {
    EXPECT_NE(RefusedFlatcArg(arg), "") << arg;
  }
  for (const char* arg : {"--gen-object-api", "--gen-mutable", "--scoped-enums",
                          "--cpp-std=c++17"}) {
    EXPECT_EQ(RefusedFlatcArg(arg), "") << arg;
  }
}

TEST(FerrycFlatcRunner, TheUsersDirectoryIsLeftAsItWas) {
  testing::ScratchDir dir;
  const std::string input = dir.Write("s.fbs", "namespace s;\ntable T { x:int; }\n");
  const std::string kept = dir.Write("sub/keep.txt", "mirrored, never removed");

  FlatcOutput output = RunFlatc(FERRY_FLATC_PATH, input, input, {}, Closure(input));

  EXPECT_TRUE(output.ok) << Messages(output);
  EXPECT_EQ(testing::ReadText(kept), "mirrored, never removed");
  EXPECT_EQ(testing::ListDir(dir.path()), (std::vector<std::string>{"s.fbs", "sub"}));
}

TEST(FerrycFlatcRunner, IdlSchemasThatIncludeEachOtherWork) {
  testing::ScratchDir dir;
  const std::string a = dir.Write("a.idl",
                                  "include \"b.idl\";\nnamespace a;\ntable A { b:bb.B; }\n"
                                  "rpc_service SA { Get(A):bb.B; }\n");
  dir.Write("b.idl",
            "include \"a.idl\";\nnamespace bb;\ntable B { x:int; }\n"
            "rpc_service SB { Get(B):a.A; }\n");

  FlatcOutput output = RunFlatc(FERRY_FLATC_PATH, a, a, {}, Closure(a));

  EXPECT_TRUE(output.ok) << Messages(output);
  EXPECT_NE(output.header.find("struct A FLATBUFFERS_FINAL_CLASS"), std::string::npos);
}

TEST(FerrycFlatcRunner, RelativeIncludesResolveAgainstTheUsersFileNotTheTempDir) {
  testing::ScratchDir dir;
  // A file where `../common.fbs` would land if it were resolved against ferryc's temp dir.
  dir.Write("tmp/common.fbs", "this is not a schema\n");
  dir.Write("proj/common.fbs", "namespace c;\ntable Msg { x:int; }\n");
  const std::string input = dir.Write("proj/schemas/main.idl",
                                      "include \"../common.fbs\";\nnamespace m;\n"
                                      "rpc_service S { Get(c.Msg):c.Msg; }\n");
  const char* old_tmpdir = std::getenv("TMPDIR");
  const std::string saved = old_tmpdir != nullptr ? old_tmpdir : "";
  setenv("TMPDIR", (dir.path() / "tmp").c_str(), 1);

  FlatcOutput output = RunFlatc(FERRY_FLATC_PATH, input, input, {}, Closure(input));

  if (old_tmpdir != nullptr) {
    setenv("TMPDIR", saved.c_str(), 1);
  } else {
    unsetenv("TMPDIR");
  }
  EXPECT_TRUE(output.ok) << Messages(output);
  EXPECT_NE(output.header.find("#include \"common_generated.h\""), std::string::npos);
}

TEST(FerrycFlatcRunner, ALeadingByteOrderMarkIsDropped) {
  testing::ScratchDir dir;
  const std::string input = dir.Write("bom.idl",
                                      "\xEF\xBB\xBFnamespace b;\ntable T { x:int; }\n"
                                      "rpc_service S { Get(T):T; }\n");

  FlatcOutput output = RunFlatc(FERRY_FLATC_PATH, input, "bom.idl", {}, Closure(input));

  EXPECT_TRUE(output.ok) << Messages(output);
  EXPECT_NE(output.header.find("struct T FLATBUFFERS_FINAL_CLASS"), std::string::npos);
}

TEST(FerrycFlatcRunner, FlatcErrorsNameTheUsersFileAndLine) {
  testing::ScratchDir dir;
  const std::string input = dir.Write("s.idl", "namespace s;\ntable T { x:int; }\n");
  // Answers like flatc 2.0.8 does: "error:" on its own line, then the indented message
  // about the last argument (the schema flatc was given), line 3 of it.
  const std::string fake = dir.Write("fake_flatc.sh",
                                     "#!/bin/sh\n"
                                     "for last in \"$@\"; do :; done\n"
                                     "printf '\\nerror:\\n  %s:3: 7: error: boom\\n' \"$last\"\n"
                                     "exit 1\n");
  chmod(fake.c_str(), 0755);

  FlatcOutput output = RunFlatc(fake, input, "s.idl", {}, {input});

  EXPECT_FALSE(output.ok);
  EXPECT_EQ(Messages(output), "s.idl:2:7: error: boom\n");
}

}  // namespace
}  // namespace ferryc
