// A tiny text emitter: {{Var}} substitution, indentation, and call wrapping at 100 columns.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ferryc {

inline constexpr int kColumnLimit = 100;

class CodeWriter {
 public:
  // Later {{key}} occurrences expand to `value`.
  void Set(const std::string& key, std::string value) { vars_[key] = std::move(value); }

  // Appends `text` (one or more lines, '\n'-separated) after substituting {{Var}}s; each
  // non-empty line is indented to the current level.
  CodeWriter& operator+=(std::string_view text);

  // Appends one line as it is (no {{Var}} substitution: schema text such as doc comments),
  // indented to the current level.
  void Literal(std::string_view line);

  // One empty line, never two in a row.
  void Blank();

  void Indent() { indent_ += 2; }
  void Outdent() { indent_ -= 2; }
  int indent() const { return indent_; }

  std::string Substitute(std::string_view text) const;
  const std::string& str() const { return out_; }

 private:
  std::map<std::string, std::string> vars_;
  std::string out_;
  int indent_ = 0;
};

// `line`, a `//` comment, made safe to end a line: trailing blanks dropped and, when it then
// ends in a backslash (or the trigraph ??/), " //" appended, since a backslash before the
// newline would splice the next line into the comment (GCC splices across trailing blanks).
std::string UnsplicedComment(std::string line);

// `head` ends with '(' and `tail` starts with ')'. Returns head + args + tail on one line if it
// fits at `indent`; else args bin-packed and aligned after the '('; else (head too long) a break
// after '(' and a 4-space continuation indent. Continuation lines carry only the indentation
// relative to the first line (CodeWriter adds the current level).
std::string WrapCall(int indent, const std::string& head, const std::vector<std::string>& args,
                     const std::string& tail);

// A function declaration `ret name(args...)tail` as WrapCall lays it out, except that the return
// type gets a line of its own when the declaration would not fit otherwise. `name` ends with '('.
std::string WrapDeclaration(int indent, const std::string& ret, const std::string& name,
                            const std::vector<std::string>& args, const std::string& tail);

}  // namespace ferryc
