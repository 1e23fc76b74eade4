// Keyword escaping for generated C++ names (the list was checked against flatc 2.0.8's output).
#include "names.h"

#include <algorithm>
#include <array>

namespace ferryc {
namespace {

// The words flatc 2.0.8 escapes (sorted, for binary search).
// clang-format off
constexpr std::array<std::string_view, 95> kFlatcKeywords = {
    "alignas", "alignof", "and", "and_eq", "asm", "atomic_cancel", "atomic_commit",
    "atomic_noexcept", "auto", "bitand", "bitor", "bool", "break", "case", "catch", "char",
    "char16_t", "char32_t", "class", "co_await", "co_return", "co_yield", "compl", "concept",
    "const", "const_cast", "constexpr", "continue", "decltype", "default", "delete", "do", "double",
    "dynamic_cast", "else", "enum", "explicit", "export", "extern", "false", "float", "for",
    "friend", "goto", "if", "import", "inline", "int", "long", "module", "mutable", "namespace",
    "new", "noexcept", "not", "not_eq", "nullptr", "operator", "or", "or_eq", "private",
    "protected", "public", "register", "reinterpret_cast", "requires", "return", "short", "signed",
    "sizeof", "static", "static_assert", "static_cast", "struct", "switch", "synchronized",
    "template", "this", "thread_local", "throw", "true", "try", "typedef", "typeid", "typename",
    "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while", "xor",
    "xor_eq",
};
// clang-format on

// C++20 keywords missing from flatc 2.0.8's list.
constexpr std::array<std::string_view, 3> kExtraKeywords = {"char8_t", "consteval", "constinit"};

bool IsFlatcKeyword(std::string_view name) {
  return std::binary_search(kFlatcKeywords.begin(), kFlatcKeywords.end(), name);
}

}  // namespace

std::string EscapeKeyword(std::string_view name) {
  return IsFlatcKeyword(name) ? std::string(name) + "_" : std::string(name);
}

bool IsCppKeyword(std::string_view name) {
  return IsFlatcKeyword(name) ||
         std::find(kExtraKeywords.begin(), kExtraKeywords.end(), name) != kExtraKeywords.end();
}

std::string EscapeIdentifier(std::string_view name) {
  return IsCppKeyword(name) ? std::string(name) + "_" : std::string(name);
}

std::string JoinDotted(const std::vector<std::string>& components) {
  std::string out;
  for (const std::string& c : components) {
    if (!out.empty()) out += '.';
    out += c;
  }
  return out;
}

}  // namespace ferryc
