// Listing leftovers and managing a private runtime dir for tests.
#include "support/shm_files.h"

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
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

std::vector<std::string> FerryFilesInDevShm(const std::vector<int>& creators) {
  const std::string queue_prefix = "ferry-mq-";
  std::vector<std::string> found;
  for (const std::string& name : FilesIn("/dev/shm")) {
    if (name.rfind("ferry", 0) != 0) continue;
    if (name.rfind(queue_prefix, 0) == 0) {
      const int creator = std::atoi(name.c_str() + queue_prefix.size());
      if (creator != getpid() &&
          std::find(creators.begin(), creators.end(), creator) == creators.end()) {
        continue;
      }
    }
    found.push_back(name);
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
