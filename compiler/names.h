// C++ spellings of schema names: keyword escaping exactly as flatc 2.0.8 does it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ferryc {

// flatc 2.0.8's rule for the names it generates (tables, structs, enums, fields): a C++ keyword
// gets a trailing underscore ("class" -> "class_"). Its list lacks the C++20 words char8_t,
// consteval and constinit, so those pass through unchanged, as in flatc's own output.
std::string EscapeKeyword(std::string_view name);

// For names only ferry generates (services, methods): flatc's rule plus the C++20 keywords
// flatc misses, so every such name compiles.
std::string EscapeIdentifier(std::string_view name);

// True for any word EscapeIdentifier would change.
bool IsCppKeyword(std::string_view name);

// "a.b.c" from {"a", "b", "c"}.
std::string JoinDotted(const std::vector<std::string>& components);

}  // namespace ferryc
