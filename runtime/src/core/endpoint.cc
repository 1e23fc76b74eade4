// Parsing endpoint strings and securing the runtime dir.
#include "core/endpoint.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ferry::internal {
namespace {

constexpr size_t kMaxNameLength = 64;

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength || name[0] == '.') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<std::string> RuntimeDir() {
  std::string dir;
  if (const char* own = std::getenv("FERRY_RUNTIME_DIR"); own != nullptr && *own != '\0') {
    dir = own;
  } else if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg != '\0') {
    dir = std::string(xdg) + "/ferry";
  } else {
    dir = "/tmp/ferry-" + std::to_string(geteuid());
  }
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::Unavailable("cannot create runtime dir " + dir + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::Unavailable("runtime dir " + dir + " is not a directory");
  }
  if (st.st_uid != geteuid() || (st.st_mode & 0077) != 0) {
    return Status::Unavailable("runtime dir " + dir +
                               " must belong to this user with mode 0700");
  }
  return dir;
}

Result<Endpoint> ParseEndpoint(std::string_view text) {
  const size_t sep = text.find("://");
  if (sep == std::string_view::npos) {
    return Status::InvalidArgument("endpoint '" + std::string(text) +
                                   "' is not of the form scheme://address");
  }
  Endpoint endpoint;
  endpoint.scheme = std::string(text.substr(0, sep));
  endpoint.name = std::string(text.substr(sep + 3));
  if (endpoint.scheme != "shm") {
    return Status::InvalidArgument("endpoint '" + std::string(text) +
                                   "': unsupported scheme (this build supports shm://)");
  }
  if (!ValidName(endpoint.name)) {
    return Status::InvalidArgument("endpoint '" + std::string(text) +
                                   "': the name must be 1-64 characters of [A-Za-z0-9._-]"
                                   " and must not start with '.'");
  }
  Result<std::string> dir = RuntimeDir();
  if (!dir.ok()) return dir.status();
  endpoint.socket_path = *dir + "/" + endpoint.name + ".sock";
  if (endpoint.socket_path.size() >= 108) {  // sizeof(sockaddr_un::sun_path)
    return Status::InvalidArgument("socket path " + endpoint.socket_path + " is too long");
  }
  return endpoint;
}

}  // namespace ferry::internal
