// Keyword escaping must match flatc's exactly, so a field `class` is `class_` in flatc's accessor
// and in ferryc's fields-as-arguments overload. Checked against the real flatc.
#include "names.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace ferryc {
namespace {

// C++ keywords, alternative tokens, TS and contextual words, and a few ordinary names.
const std::vector<std::string> kCandidates = {"alignas",
                                              "alignof",
                                              "and",
                                              "and_eq",
                                              "asm",
                                              "atomic_cancel",
                                              "atomic_commit",
                                              "atomic_noexcept",
                                              "auto",
                                              "bitand",
                                              "bitor",
                                              "bool",
                                              "break",
                                              "case",
                                              "catch",
                                              "char",
                                              "char8_t",
                                              "char16_t",
                                              "char32_t",
                                              "class",
                                              "compl",
                                              "concept",
                                              "const",
                                              "consteval",
                                              "constexpr",
                                              "constinit",
                                              "const_cast",
                                              "continue",
                                              "co_await",
                                              "co_return",
                                              "co_yield",
                                              "decltype",
                                              "default",
                                              "delete",
                                              "do",
                                              "double",
                                              "dynamic_cast",
                                              "else",
                                              "enum",
                                              "explicit",
                                              "export",
                                              "extern",
                                              "false",
                                              "float",
                                              "for",
                                              "friend",
                                              "goto",
                                              "if",
                                              "import",
                                              "inline",
                                              "int",
                                              "long",
                                              "module",
                                              "mutable",
                                              "namespace",
                                              "new",
                                              "noexcept",
                                              "not",
                                              "not_eq",
                                              "nullptr",
                                              "operator",
                                              "or",
                                              "or_eq",
                                              "private",
                                              "protected",
                                              "public",
                                              "reflexpr",
                                              "register",
                                              "reinterpret_cast",
                                              "requires",
                                              "return",
                                              "short",
                                              "signed",
                                              "sizeof",
                                              "static",
                                              "static_assert",
                                              "static_cast",
                                              "struct",
                                              "switch",
                                              "synchronized",
                                              "template",
                                              "this",
                                              "thread_local",
                                              "throw",
                                              "true",
                                              "try",
                                              "typedef",
                                              "typeid",
                                              "typename",
                                              "union",
                                              "unsigned",
                                              "using",
                                              "virtual",
                                              "void",
                                              "volatile",
                                              "wchar_t",
                                              "while",
                                              "xor",
                                              "xor_eq",
                                              "final",
                                              "override",
                                              "transaction_safe",
                                              "assert",
                                              "size_t",
                                              "value",
                                              "name"};

TEST(FerrycNames, EscapeKeywordMatchesFlatcForEveryCandidate) {
  testing::ScratchDir dir;
  std::string schema = "table T {\n";
  for (const std::string& word : kCandidates) schema += "  " + word + ":int;\n";
  schema += "}\n";
  const std::string input = dir.Write("kw.fbs", schema);
  std::string err;
  ASSERT_EQ(
      testing::RunProcess({FERRY_FLATC_PATH, "--cpp", "-o", dir.path().string(), input}, &err), 0)
      << err;
  const std::string generated = testing::ReadText(dir.path() / "kw_generated.h");

  for (const std::string& word : kCandidates) {
    // flatc's accessor: `int32_t <escaped>() const {`.
    const std::string accessor = " " + EscapeKeyword(word) + "() const {";
    EXPECT_NE(generated.find(accessor), std::string::npos) << word;
    if (EscapeKeyword(word) == word) {
      EXPECT_EQ(generated.find(" " + word + "_() const {"), std::string::npos) << word;
    }
  }
}

TEST(FerrycNames, FerryOwnedNamesAlsoEscapeTheCxx20KeywordsFlatcMisses) {
  EXPECT_EQ(EscapeIdentifier("char8_t"), "char8_t_");
  EXPECT_EQ(EscapeIdentifier("consteval"), "consteval_");
  EXPECT_EQ(EscapeKeyword("consteval"), "consteval");
  EXPECT_EQ(EscapeIdentifier("class"), "class_");
  EXPECT_EQ(EscapeIdentifier("Calculator"), "Calculator");
}

}  // namespace
}  // namespace ferryc
