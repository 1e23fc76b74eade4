// Diagnostics: the one shape every ferryc error takes, `file:line:col: error: message`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ferryc {

enum class Severity { kError, kWarning };

struct Diagnostic {
  std::string file;  // as the user named it (top-level input) or absolute (included files)
  int line = 0;      // 1-based; 0 when unknown
  int col = 0;       // 1-based; 0 when unknown
  std::string message;
  Severity severity = Severity::kError;
};

// "file:line:col: error: message"; the location parts that are unknown are left out.
std::string FormatDiagnostic(const Diagnostic& diagnostic);

bool HasErrors(const std::vector<Diagnostic>& diagnostics);

// Splits flatbuffers::Parser::error_ (one message per line, in the form
// `path:LINE: COL: error: msg`, with a space after the line's colon) into diagnostics.
// "..., originally at: path:LINE" (an undefined type) is moved to where the type was used.
// Lines that do not look like a message are appended to the previous one.
std::vector<Diagnostic> ParseFlatbuffersMessages(std::string_view text);

}  // namespace ferryc
