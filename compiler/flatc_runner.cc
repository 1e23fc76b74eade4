// Runs flatc on a private copy of a schema and returns its C++ header in memory.
#include "flatc_runner.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "code_writer.h"

#ifndef FERRYC_DEFAULT_FLATC
#define FERRYC_DEFAULT_FLATC "/usr/bin/flatc"
#endif

extern char** environ;

namespace ferryc {
namespace {

namespace fs = std::filesystem;

constexpr const char* kAttributesFile = "ferry_attributes.fbs";
constexpr const char* kAttributesInclude = "#include \"ferry_attributes_generated.h\"\n";
constexpr const char* kUtf8Bom = "\xEF\xBB\xBF";

// Removes its directory tree on every path out of RunFlatc.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "ferryc.XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool ReadAll(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  *out = text.str();
  return true;
}

bool WriteAll(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

// Runs argv with stdout and stderr sent to `log`; returns the exit status or -1.
int Spawn(const std::vector<std::string>& argv, const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// flatc copies `///` doc comments into its header as they are, so one ending in a backslash
// splices the next line of flatc's code into the comment; such lines get an end mark.
std::string UnspliceComments(const std::string& header) {
  std::string out;
  std::istringstream lines(header);
  std::string line;
  while (std::getline(lines, line)) {
    const size_t start = line.find_first_not_of(' ');
    out += (start != std::string::npos && line.compare(start, 2, "//") == 0)
               ? UnsplicedComment(line)
               : line;
    out += '\n';
  }
  return out;
}

}  // namespace

std::string DefaultFlatc() {
  if (const char* path = std::getenv("PATH")) {
    std::istringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      if (dir.empty()) continue;
      fs::path candidate = fs::path(dir) / "flatc";
      if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
  }
  return FERRYC_DEFAULT_FLATC;
}

std::string RefusedFlatcArg(const std::string& arg) {
  // Where the header lands and what it is called: ferryc decides both.
  static const char* const kPlacement[] = {"-o", "-I", "--filename-suffix", "--filename-ext",
                                           "--keep-prefix", "--include-prefix", "--gen-all",
                                           "--gen-includes", "--no-includes", "-M", "--conform",
                                           "--conform-includes", "--root-type", "--binary",
                                           "-b", "--schema", "--json", "-t", "--raw-binary"};
  const std::string name = arg.substr(0, arg.find('='));
  for (const char* refused : kPlacement) {
    if (name == refused) {
      return "flatc option " + name +
             " cannot go through ferryc: ferryc decides where the message header goes, what "
             "it is called and what flatc generates";
    }
  }
  // Another language instead of (or beside) C++.
  static const char* const kLanguages[] = {
      "--cpp", "-c", "--java", "-j", "--kotlin", "--csharp", "-n", "--go", "-g", "--python",
      "-p", "--js", "--ts", "-T", "--php", "--dart", "-d", "--lua", "-l", "--lobster",
      "--rust", "-r", "--swift", "--grpc", "--jsonschema", "--nim"};
  for (const char* language : kLanguages) {
    if (name == language) {
      return "flatc option " + name + " selects a language; ferryc always generates C++ (--cpp)";
    }
  }
  if (name.empty() || name[0] != '-') {
    return "flatc argument '" + arg + "' is not an option (schemas are ferryc's inputs)";
  }
  return "";
}

FlatcOutput RunFlatc(const std::string& flatc, const std::string& input, const std::string& display,
                     const std::vector<std::string>& include_dirs,
                     const std::vector<std::string>& closure,
                     const std::vector<std::string>& extra_args) {
  FlatcOutput output;
  auto fail = [&](std::string message) {
    output.ok = false;
    output.diagnostics.push_back({display, 0, 0, std::move(message), Severity::kError});
    return output;
  };

  TempDir temp;
  if (temp.path().empty()) {
    return fail("cannot create a temporary directory for flatc: " + std::string(strerror(errno)));
  }
  const fs::path source = fs::absolute(input).lexically_normal();
  const fs::path source_dir = source.parent_path();
  const std::string stem = source.stem().string();
  std::string text;
  if (!ReadAll(source.string(), &text)) return fail("cannot read file");
  if (text.starts_with(kUtf8Bom)) text.erase(0, std::strlen(kUtf8Bom));

  // flatc must see the schema once (a.fbs may include b.fbs, which includes a.fbs again), and
  // flatc knows a file by its name and contents; but the copy it compiles differs from the
  // original (it declares ferry's attributes first). So flatc works in a private tree that
  // repeats the absolute paths of the schema and of everything it includes (as symlinks):
  // every include, however it is spelled and through whichever directory, finds what the
  // in-process parse found, and the schema's own path holds the copy. An .idl schema is
  // copied as <stem>.fbs (flatc 2.0.8 compiles only .fbs), and its own name holds a stand-in
  // that includes the copy (which flatc is parsing already).
  const fs::path tree = fs::path(temp.path()) / "tree";
  const fs::path attributes_dir = fs::path(temp.path()) / "attributes";
  const auto in_tree = [&](const fs::path& original) { return tree / original.relative_path(); };
  const fs::path copy = in_tree(source).replace_filename(stem + ".fbs");
  std::error_code error;
  fs::create_directories(in_tree(source_dir), error);
  if (!error) fs::create_directory(attributes_dir, error);
  if (error) return fail("cannot set up flatc's input in " + temp.path() + ": " + error.message());
  for (const std::string& file : closure) {
    const fs::path original = fs::absolute(file).lexically_normal();
    if (original == source) continue;
    if (in_tree(original) == copy) {
      return fail("includes " + original.string() + ", which flatc would take for this schema (" +
                  copy.filename().string() + "); rename one of them");
    }
    fs::create_directories(in_tree(original).parent_path(), error);
    if (!error) fs::create_symlink(original, in_tree(original), error);
    if (error) {
      return fail("cannot set up flatc's input in " + temp.path() + ": " + error.message());
    }
  }
  const bool stand_in = source.filename() != copy.filename();
  if (!WriteAll((attributes_dir / kAttributesFile).string(),
                "// ferry's method attributes, declared for flatc by ferryc.\n"
                "attribute \"oneway\";\nattribute \"deadline_ms\";\n") ||
      !WriteAll(copy.string(), std::string("include \"") + kAttributesFile + "\";\n" + text) ||
      (stand_in && !WriteAll(in_tree(source).string(),
                             "include \"" + copy.filename().string() + "\";\n"))) {
    return fail("cannot write flatc's input into " + temp.path() + ": " + strerror(errno));
  }

  // The same directories, in the same order, as the in-process parse; ferry's attributes last.
  const std::string out_dir = temp.path() + "/out";
  std::vector<std::string> argv = {flatc, "--cpp", "-o", out_dir, "-I",
                                   in_tree(source_dir).string()};
  for (const std::string& dir : include_dirs) {
    argv.push_back("-I");
    argv.push_back(in_tree(fs::absolute(dir).lexically_normal()).string());
  }
  argv.push_back("-I");
  argv.push_back(attributes_dir.string());
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  argv.push_back(copy.string());
  const std::string log = temp.path() + "/flatc.log";
  int status = Spawn(argv, log);
  std::string log_text;
  ReadAll(log, &log_text);
  if (status != 0) {
    if (status < 0 && log_text.empty()) return fail("cannot run flatc (" + flatc + ")");
    // Should not happen (the schema already parsed in-process); report what flatc said, with
    // the mirror's names mapped back to the user's files.
    const std::string tree_prefix = tree.string() + "/";
    std::vector<Diagnostic> diagnostics = ParseFlatbuffersMessages(log_text);
    bool any = false;
    for (Diagnostic& d : diagnostics) {
      if (d.severity != Severity::kError) continue;
      if (d.file == copy.string()) {
        d.file = display;
        if (d.line > 0) d.line = std::max(1, d.line - 1);  // the prepended include line
      } else if (d.file.starts_with(tree_prefix)) {
        d.file = "/" + d.file.substr(tree_prefix.size());
      }
      output.diagnostics.push_back(d);
      any = true;
    }
    if (!any) return fail("flatc failed: " + log_text);
    return output;
  }

  std::string header;
  if (!ReadAll(out_dir + "/" + stem + "_generated.h", &header)) {
    return fail("flatc did not write " + stem + "_generated.h");
  }
  size_t at = header.find(kAttributesInclude);
  if (at != std::string::npos) header.erase(at, std::strlen(kAttributesInclude));
  output.header = UnspliceComments(header);
  output.ok = true;
  return output;
}

}  // namespace ferryc
