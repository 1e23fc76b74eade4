// Formats ferryc's diagnostics and normalises the messages flatbuffers::Parser produces.
#include "diagnostics.h"

#include <fstream>
#include <regex>
#include <sstream>

namespace ferryc {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.';
}

// The column (1-based) of `word` as a whole (qualified) name in line `line` of `file`, or 0
// when it can't be found. An occurrence in type position (after ':', '(' or '[') wins over an
// earlier one that is, say, a field of the same name.
int FindColumn(const std::string& file, int line, const std::string& word) {
  std::ifstream in(file);
  std::string text;
  for (int i = 0; i < line && std::getline(in, text); ++i) {
  }
  if (!in || word.empty()) return 0;
  int first = 0;
  for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) {
    const size_t end = at + word.size();
    if ((at > 0 && IsNameChar(text[at - 1])) || (end < text.size() && IsNameChar(text[end]))) {
      continue;
    }
    size_t before = text.find_last_not_of(" \t", at == 0 ? std::string::npos : at - 1);
    if (at > 0 && before != std::string::npos &&
        (text[before] == ':' || text[before] == '(' || text[before] == '[')) {
      return static_cast<int>(at) + 1;
    }
    if (first == 0) first = static_cast<int>(at) + 1;
  }
  return first;
}

}  // namespace

std::string FormatDiagnostic(const Diagnostic& diagnostic) {
  std::ostringstream out;
  if (!diagnostic.file.empty()) out << diagnostic.file << ':';
  if (diagnostic.line > 0) {
    out << diagnostic.line << ':';
    if (diagnostic.col > 0) out << diagnostic.col << ':';
  }
  if (out.tellp() > 0) out << ' ';
  out << (diagnostic.severity == Severity::kError ? "error: " : "warning: ") << diagnostic.message;
  return out.str();
}

bool HasErrors(const std::vector<Diagnostic>& diagnostics) {
  for (const Diagnostic& d : diagnostics) {
    if (d.severity == Severity::kError) return true;
  }
  return false;
}

std::vector<Diagnostic> ParseFlatbuffersMessages(std::string_view text) {
  static const std::regex kMessage(R"(^(.*?):?(\d+): (\d+): (error|warning): (.*)$)");
  static const std::regex kOriginally(
      R"(^(.*): ([A-Za-z_][A-Za-z0-9_.]*), originally at: (.*):(\d+)$)");
  std::vector<Diagnostic> diagnostics;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    // The flatc binary prints "error:" on a line of its own, then the messages indented.
    size_t start = line.find_first_not_of(" \t");
    line.erase(0, start == std::string::npos ? line.size() : start);
    if (line.empty() || line == "error:" || line == "warning:") continue;
    std::smatch m;
    if (std::regex_match(line, m, kMessage)) {
      Diagnostic d;
      d.file = m[1];
      d.line = std::stoi(m[2]);
      // flatbuffers counts the characters before its cursor, which sits just past the token
      // it complains about: as a 1-based column that is the token's last character.
      d.col = std::stoi(m[3]);
      d.severity = m[4] == "error" ? Severity::kError : Severity::kWarning;
      d.message = m[5];
      std::smatch o;
      if (std::regex_match(d.message, o, kOriginally)) {
        // The parser reports an undefined type at the end of the file; point at its use.
        std::string type = o[2];
        std::string where = o[3];
        int where_line = std::stoi(o[4]);
        std::string where_file = d.file;
        if (!where.empty() && where.front() == '/') where_file = where;
        d.message = std::string(o[1]) + ": " + type;
        d.file = where_file;
        d.line = where_line;
        // As reported, else as written with less of its namespace ("c.T", then "T").
        d.col = FindColumn(d.file, d.line, type);
        for (size_t dot = type.find('.'); d.col == 0 && dot != std::string::npos;
             dot = type.find('.', dot + 1)) {
          d.col = FindColumn(d.file, d.line, type.substr(dot + 1));
        }
      }
      diagnostics.push_back(std::move(d));
    } else if (!diagnostics.empty()) {
      diagnostics.back().message += " " + line;
    } else {
      diagnostics.push_back({"", 0, 0, line, Severity::kError});
    }
  }
  return diagnostics;
}

}  // namespace ferryc
