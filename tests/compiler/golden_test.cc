// Regenerates the checked-in golden .ferry.h/.ferry.cc files and diffs them, so every change to
// generated code shows up in review. To refresh after an intended change:
//   FERRY_UPDATE_GOLDEN=1 ctest -R FerrycGolden   (or run ferryc_test with that variable set)
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "compiler.h"
#include "test_util.h"

namespace ferryc {
namespace {

namespace fs = std::filesystem;
using testing::ReadText;
using testing::SourceDir;

struct GoldenCase {
  std::string schema;  // relative to the repository root
  std::vector<std::string> include_dirs;
};

void CheckGolden(const GoldenCase& golden) {
  testing::ScratchDir out;
  CompilerOptions options;
  options.out_dir = out.path().string();
  options.run_flatc = false;
  options.inputs = {SourceDir() + "/" + golden.schema};
  for (const std::string& dir : golden.include_dirs) {
    options.include_dirs.push_back(SourceDir() + "/" + dir);
  }

  CompileResult result = Compile(options);

  ASSERT_TRUE(result.ok()) << (result.diagnostics.empty()
                                   ? ""
                                   : FormatDiagnostic(result.diagnostics.front()));
  ASSERT_EQ(result.files.size(), 2u);
  const bool update = std::getenv("FERRY_UPDATE_GOLDEN") != nullptr;
  for (const GeneratedFile& file : result.files) {
    const fs::path golden_path =
        fs::path(SourceDir()) / "tests/compiler/golden" / fs::path(file.path).filename();
    if (update) {
      std::ofstream(golden_path, std::ios::binary) << file.contents;
      continue;
    }
    ASSERT_TRUE(fs::exists(golden_path))
        << golden_path << " is missing; run with FERRY_UPDATE_GOLDEN=1 to create it";
    EXPECT_EQ(file.contents, ReadText(golden_path))
        << golden_path << " differs from what ferryc generates now; if the change is intended, "
        << "refresh with FERRY_UPDATE_GOLDEN=1 and review the diff";
    std::istringstream lines(file.contents);
    std::string line;
    for (int number = 1; std::getline(lines, line); ++number) {
      EXPECT_LE(line.size(), 100u) << golden_path << ":" << number << " is longer than 100";
      EXPECT_TRUE(line.empty() || line.back() != ' ')
          << golden_path << ":" << number << " has trailing spaces";
    }
  }
}

TEST(FerrycGolden, CalculatorExampleMatchesGolden) {
  CheckGolden({"examples/calculator/calculator.idl", {}});
}

TEST(FerrycGolden, EverythingCorpusSchemaMatchesGolden) {
  CheckGolden({"tests/compiler/schemas/everything.idl", {"tests/compiler/schemas/imports"}});
}

TEST(FerrycGolden, KeywordCorpusSchemaMatchesGolden) {
  CheckGolden({"tests/compiler/schemas/keywords.idl", {}});
}

TEST(FerrycGolden, SchemaWithoutServicesMatchesGolden) {
  CheckGolden({"tests/compiler/schemas/messages_only.idl", {}});
}

}  // namespace
}  // namespace ferryc
