// stderr logging for the runtime's rare events (bad peers, refused connections).
#include "core/log.h"

#include <unistd.h>

#include <string>

namespace ferry::internal {

void LogLine(std::string_view line) {
  std::string text = "ferry[" + std::to_string(getpid()) + "]: ";
  text.append(line);
  text.push_back('\n');
  [[maybe_unused]] ssize_t ignored = write(STDERR_FILENO, text.data(), text.size());
}

}  // namespace ferry::internal
