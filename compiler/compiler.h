// The ferryc driver: runs parse -> model -> validate -> emit (and flatc) for every input in
// memory, and writes the outputs only when every stage succeeded for every input.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "diagnostics.h"

namespace ferryc {

struct CompilerOptions {
  std::string out_dir;
  std::vector<std::string> include_dirs;
  std::string depfile;    // empty: none
  std::string flatc;      // empty: DefaultFlatc()
  bool run_flatc = true;  // false: only <stem>.ferry.h/.cc (tests)
  // Also generates every schema the inputs include, transitively, each as its own outputs.
  bool gen_includes = false;
  std::vector<std::string> flatc_args;  // passed to flatc as they are
  // Compiling one of ferry's own schemas (idl/ferry/), which may declare namespace ferry.
  bool runtime_schema = false;
  std::vector<std::string> inputs;
};

struct GeneratedFile {
  std::string path;  // out_dir/<name>
  std::string contents;
};

struct CompileResult {
  std::vector<GeneratedFile> files;  // empty when there are errors
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return !HasErrors(diagnostics); }
};

// Every stage for every input, in memory; writes nothing.
CompileResult Compile(const CompilerOptions& options);

// A make rule: `<outputs...>: <dependencies...>` with make's escaping.
std::string DepfileText(const std::vector<std::string>& outputs,
                        const std::vector<std::string>& dependencies);

// Writes `files` (creating their directories); each lands through a temporary name and a
// rename, so a reader never sees half a file. False, with a diagnostic naming the system's
// reason, on failure; then none of `files` is left behind (not even the ones already renamed).
bool WriteFiles(const std::vector<GeneratedFile>& files, std::vector<Diagnostic>* diagnostics);

// The command line: `ferryc -o <outdir> [-I <dir>]... [--gen-includes] [--flatc-arg <arg>]...
// [--depfile <f>] [--flatc <path>] files...`.
// Returns the exit status: 0 ok, 1 schema errors (nothing written), 2 usage errors.
int RunCommandLine(const std::vector<std::string>& args, std::ostream& err);

}  // namespace ferryc
