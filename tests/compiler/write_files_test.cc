// WriteFiles: all outputs or none, and a failure says why.
#include <gtest/gtest.h>

#include <filesystem>

#include "compiler.h"
#include "test_util.h"

namespace ferryc {
namespace {

namespace fs = std::filesystem;

TEST(FerrycWriteFiles, WritesEveryFile) {
  testing::ScratchDir dir;
  const fs::path out = dir.path() / "out";
  std::vector<Diagnostic> diagnostics;

  EXPECT_TRUE(
      WriteFiles({{(out / "a.h").string(), "a"}, {(out / "sub/b.h").string(), "b"}}, &diagnostics));

  EXPECT_TRUE(diagnostics.empty());
  EXPECT_EQ(testing::ReadText(out / "a.h"), "a");
  EXPECT_EQ(testing::ReadText(out / "sub/b.h"), "b");
}

TEST(FerrycWriteFiles, AFileThatCannotBeCreatedLeavesNoOutputAndSaysWhy) {
  testing::ScratchDir dir;
  const fs::path out = dir.path() / "out";
  const std::string blocker = dir.Write("blocker", "a file, not a directory");
  const std::string unwritable = blocker + "/c.h";
  std::vector<Diagnostic> diagnostics;

  EXPECT_FALSE(WriteFiles({{(out / "a.h").string(), "a"}, {unwritable, "c"}}, &diagnostics));

  EXPECT_EQ(testing::ListDir(out), std::vector<std::string>{});
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(FormatDiagnostic(diagnostics[0]),
            unwritable + ": error: cannot write file: Not a directory");
}

TEST(FerrycWriteFiles, AFailedRenameRemovesTheFilesAlreadyInPlace) {
  testing::ScratchDir dir;
  const fs::path out = dir.path() / "out";
  fs::create_directories(out / "b.h" / "in_the_way");  // b.h cannot replace a full directory
  std::vector<Diagnostic> diagnostics;

  EXPECT_FALSE(WriteFiles(
      {{(out / "a.h").string(), "a"}, {(out / "b.h").string(), "b"}, {(out / "c.h").string(), "c"}},
      &diagnostics));

  EXPECT_EQ(testing::ListDir(out), std::vector<std::string>{"b.h"});  // only what was there
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics[0].file, (out / "b.h").string());
  EXPECT_EQ(diagnostics[0].message.rfind("cannot write file: ", 0), 0u);
}

}  // namespace
}  // namespace ferryc
