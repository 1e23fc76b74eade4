// Runs flatc on a private copy of a schema and returns its C++ header in memory.
#include "flatc_runner.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#ifndef FERRYC_DEFAULT_FLATC
#define FERRYC_DEFAULT_FLATC "/usr/bin/flatc"
#endif

extern char** environ;

namespace ferryc {
namespace {

namespace fs = std::filesystem;

constexpr const char* kAttributesFile = "ferry_attributes.fbs";
constexpr const char* kAttributesInclude = "#include \"ferry_attributes_generated.h\"\n";

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

FlatcOutput RunFlatc(const std::string& flatc, const std::string& input, const std::string& display,
                     const std::vector<std::string>& include_dirs) {
  FlatcOutput output;
  auto fail = [&](std::string message) {
    output.ok = false;
    output.diagnostics.push_back({display, 0, 0, std::move(message), Severity::kError});
    return output;
  };

  TempDir temp;
  if (temp.path().empty()) return fail("cannot create a temporary directory for flatc");
  const fs::path source = fs::absolute(input).lexically_normal();
  const std::string stem = source.stem().string();
  std::string text;
  if (!ReadAll(source.string(), &text)) return fail("cannot read file");
  const std::string copy = temp.path() + "/" + stem + ".fbs";
  if (!WriteAll(temp.path() + "/" + kAttributesFile,
                "// ferry's method attributes, declared for flatc by ferryc.\n"
                "attribute \"oneway\";\nattribute \"deadline_ms\";\n") ||
      !WriteAll(copy, std::string("include \"") + kAttributesFile + "\";\n" + text)) {
    return fail("cannot write flatc's input into " + temp.path());
  }

  const std::string out_dir = temp.path() + "/out";
  std::vector<std::string> argv = {flatc, "--cpp",     "-o", out_dir,
                                   "-I",  temp.path(), "-I", source.parent_path().string()};
  for (const std::string& dir : include_dirs) {
    argv.push_back("-I");
    argv.push_back(fs::absolute(dir).lexically_normal().string());
  }
  argv.push_back(copy);
  const std::string log = temp.path() + "/flatc.log";
  int status = Spawn(argv, log);
  std::string log_text;
  ReadAll(log, &log_text);
  if (status != 0) {
    if (status < 0 && log_text.empty()) return fail("cannot run flatc (" + flatc + ")");
    // Should not happen (the schema already parsed in-process); report what flatc said, with
    // its copy's name mapped back to the user's file.
    std::vector<Diagnostic> diagnostics = ParseFlatbuffersMessages(log_text);
    bool any = false;
    for (Diagnostic& d : diagnostics) {
      if (d.severity != Severity::kError) continue;
      if (d.file == copy) {
        d.file = display;
        d.line -= 1;  // the prepended include line
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
  output.header = std::move(header);
  output.ok = true;
  return output;
}

}  // namespace ferryc
