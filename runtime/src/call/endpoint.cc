// Parsing endpoint strings and securing the runtime dir.
#include "call/endpoint.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ferry::internal {
namespace {

constexpr size_t kMaxNameLength = 64;
constexpr size_t kMaxSocketPath = 108;  // sizeof(sockaddr_un::sun_path)

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength || name[0] == '.') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

template <class Invalid>
Result<Endpoint> ParseTcp(std::string_view address, Endpoint endpoint, const Invalid& invalid) {
  endpoint.scheme = Scheme::kTcp;
  size_t colon;
  if (!address.empty() && address[0] == '[') {
    const size_t close = address.find(']');
    if (close == std::string_view::npos) return invalid("unclosed '[' in an IPv6 address");
    endpoint.host = std::string(address.substr(1, close - 1));
    colon = close + 1;
    if (colon >= address.size() || address[colon] != ':') return invalid("expected :port after ]");
  } else {
    colon = address.rfind(':');
    if (colon == std::string_view::npos) return invalid("expected host:port");
    endpoint.host = std::string(address.substr(0, colon));
    if (endpoint.host.find(':') != std::string::npos) {
      return invalid("write an IPv6 address in brackets, as tcp://[::1]:7000");
    }
  }
  if (endpoint.host.empty()) return invalid("the host is empty");
  const std::string_view port = address.substr(colon + 1);
  uint32_t value = 0;
  if (port.empty() || port.size() > 5) return invalid("the port must be 0-65535");
  for (char c : port) {
    if (c < '0' || c > '9') return invalid("the port must be 0-65535");
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return invalid("the port must be 0-65535");
  endpoint.port = static_cast<uint16_t>(value);
  return endpoint;
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
  const auto invalid = [&](std::string_view why) {
    return Status::InvalidArgument("endpoint '" + std::string(text) + "': " + std::string(why));
  };
  const size_t sep = text.find("://");
  if (sep == std::string_view::npos) return invalid("not of the form scheme://address");
  const std::string_view scheme = text.substr(0, sep);
  const std::string_view address = text.substr(sep + 3);
  Endpoint endpoint;
  endpoint.text = std::string(text);
  if (scheme == "unix") {
    endpoint.scheme = Scheme::kUnix;
    endpoint.socket_path = std::string(address);
    if (address.empty() || address[0] != '/') return invalid("a unix path must be absolute");
    if (address.size() >= kMaxSocketPath) return invalid("the socket path is too long");
    if (address.find('\0') != std::string_view::npos) return invalid("the path holds a NUL");
    return endpoint;
  }
  if (scheme == "tcp") return ParseTcp(address, std::move(endpoint), invalid);
  if (scheme == "shm") {
    endpoint.scheme = Scheme::kShm;
  } else if (scheme == "mq") {
    endpoint.scheme = Scheme::kMq;
  } else {
    return invalid("unknown scheme (use shm://, unix://, tcp:// or mq://)");
  }
  endpoint.name = std::string(address);
  if (!ValidName(endpoint.name)) {
    return invalid("the name must be 1-64 characters of [A-Za-z0-9._-] and must not start with '.'");
  }
  Result<std::string> dir = RuntimeDir();
  if (!dir.ok()) return dir.status();
  endpoint.socket_path =
      *dir + "/" + endpoint.name + (endpoint.scheme == Scheme::kMq ? ".mq.sock" : ".sock");
  if (endpoint.socket_path.size() >= kMaxSocketPath) {
    return invalid("socket path " + endpoint.socket_path + " is too long");
  }
  return endpoint;
}

}  // namespace ferry::internal
