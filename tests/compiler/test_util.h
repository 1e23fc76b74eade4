// Helpers for ferryc's tests: scratch directories and file I/O.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace ferryc::testing {

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Writes `text` to path()/relative (creating directories) and returns the full path.
  std::string Write(const std::string& relative, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

std::string ReadText(const std::filesystem::path& path);

// Names of the entries of `dir` (empty when it does not exist).
std::vector<std::string> ListDir(const std::filesystem::path& dir);

// Runs `argv` and captures its stderr; returns the exit status.
int RunProcess(const std::vector<std::string>& argv, std::string* stderr_text);

std::string SourceDir();  // the repository root

}  // namespace ferryc::testing
