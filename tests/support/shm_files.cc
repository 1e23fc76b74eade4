// Listing leftovers and managing a private runtime dir for tests.
#include "support/shm_files.h"

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

namespace ferry::testing {

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* entry = readdir(d)) {
      const std::string name = entry->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    closedir(d);
  }
  return names;
}

std::vector<std::string> FerryFilesInDevShm() {
  std::vector<std::string> found;
  for (const std::string& name : FilesIn("/dev/shm")) {
    if (name.rfind("ferry", 0) == 0) found.push_back(name);
  }
  return found;
}

ScopedRuntimeDir::ScopedRuntimeDir() {
  std::string pattern = std::filesystem::temp_directory_path().string() + "/ferry-test-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
  setenv("FERRY_RUNTIME_DIR", path_.c_str(), 1);
}

ScopedRuntimeDir::~ScopedRuntimeDir() {
  unsetenv("FERRY_RUNTIME_DIR");
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace ferry::testing
