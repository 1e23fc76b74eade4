// The code writer substitutes {{Var}}s, indents, and wraps calls at 100 columns.
#include "code_writer.h"

#include <gtest/gtest.h>

namespace ferryc {
namespace {

TEST(FerrycCodeWriter, SubstitutesVariablesAndIndentsEveryLine) {
  CodeWriter code;
  code.Set("Name", "Calculator");
  code += "class {{Name}} {";
  code.Indent();
  code += "int a;\nint b;  // {{Unknown}}";
  code.Outdent();
  code += "};";

  EXPECT_EQ(code.str(), "class Calculator {\n  int a;\n  int b;  // {{Unknown}}\n};\n");
}

TEST(FerrycCodeWriter, CallsThatFitStayOnOneLine) {
  EXPECT_EQ(WrapCall(2, "f(", {"a", "b"}, ");"), "f(a, b);");
}

TEST(FerrycCodeWriter, LongCallsAlignArgumentsAfterTheParenthesis) {
  std::string arg(50, 'x');
  EXPECT_EQ(WrapCall(0, "function(", {arg, arg}, ");"),
            "function(" + arg + ",\n         " + arg + ");");
}

TEST(FerrycCodeWriter, CallsWithALongHeadBreakAfterTheParenthesis) {
  std::string head(90, 'h');
  EXPECT_EQ(WrapCall(0, head + "(", {"int first", "int second"}, ") {"),
            head + "(\n    int first, int second) {");
}

}  // namespace
}  // namespace ferryc

namespace ferryc {
namespace {

TEST(FerrycCodeWriter, LongReturnTypesGetALineOfTheirOwn) {
  std::string ret = "::ferry::Result<::ferry::ReplyView<" + std::string(60, 'T') + ">>";
  EXPECT_EQ(WrapDeclaration(2, ret, "Get(", {"int a"}, ") const {"), ret + "\nGet(int a) const {");
  EXPECT_EQ(WrapDeclaration(2, "int", "Get(", {"int a"}, ") const {"), "int Get(int a) const {");
}

TEST(FerrycCodeWriter, CommentLinesNeverEndInALineSplice) {
  EXPECT_EQ(UnsplicedComment("// plain"), "// plain");
  EXPECT_EQ(UnsplicedComment("// trailing blanks \t "), "// trailing blanks");
  EXPECT_EQ(UnsplicedComment("// C:\\data\\"), "// C:\\data\\ //");
  EXPECT_EQ(UnsplicedComment("// C:\\data\\  "), "// C:\\data\\ //");
  EXPECT_EQ(UnsplicedComment("// trigraph ?\?/"), "// trigraph ?\?/ //");
}

}  // namespace
}  // namespace ferryc
