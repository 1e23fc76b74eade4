// One line per event worth an operator's attention, on stderr.
#pragma once

#include <string_view>

namespace ferry::internal {

// Writes "ferry[<pid>]: <line>\n" in one write(2), so lines from threads never interleave.
void LogLine(std::string_view line);

}  // namespace ferry::internal
