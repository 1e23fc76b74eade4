// flatbuffers' `path:LINE: COL: error: msg` becomes ferryc's `path:LINE:COL: error: msg`.
#include "diagnostics.h"

#include <gtest/gtest.h>

namespace ferryc {
namespace {

TEST(FerrycDiagnostics, FlatbuffersMessagesAreSplitAndNormalised) {
  std::vector<Diagnostic> diagnostics = ParseFlatbuffersMessages(
      "/s/x.fbs:3: 13: warning: field names should be lowercase snake_case, got: Bad\n"
      "/s/x.fbs:4: 23: error: rpc request and response types must be tables");

  ASSERT_EQ(diagnostics.size(), 2u);
  EXPECT_EQ(FormatDiagnostic(diagnostics[0]),
            "/s/x.fbs:3:13: warning: field names should be lowercase snake_case, got: Bad");
  EXPECT_EQ(FormatDiagnostic(diagnostics[1]),
            "/s/x.fbs:4:23: error: rpc request and response types must be tables");
  EXPECT_TRUE(HasErrors(diagnostics));
}

TEST(FerrycDiagnostics, PathsWithDigitsKeepTheirLineNumbers) {
  std::vector<Diagnostic> diagnostics =
      ParseFlatbuffersMessages("/s/v2/x12.fbs:12: 5: error: boom");

  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics[0].file, "/s/v2/x12.fbs");
  EXPECT_EQ(diagnostics[0].line, 12);
  EXPECT_EQ(diagnostics[0].col, 5);
}

TEST(FerrycDiagnostics, UnknownPartsOfALocationAreLeftOut) {
  EXPECT_EQ(FormatDiagnostic({"x.idl", 0, 0, "cannot read file", Severity::kError}),
            "x.idl: error: cannot read file");
  EXPECT_EQ(FormatDiagnostic({"", 0, 0, "no inputs", Severity::kError}), "error: no inputs");
}

}  // namespace
}  // namespace ferryc
