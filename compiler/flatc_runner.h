// Drives the flatc binary for the message code (<stem>_generated.h), entirely in a private
// temporary directory: nothing is written next to the user's files or into the output dir.
#pragma once

#include <string>
#include <vector>

#include "diagnostics.h"

namespace ferryc {

// The flatc used when --flatc is not given: `flatc` on PATH, else the build-time default.
std::string DefaultFlatc();

struct FlatcOutput {
  bool ok = false;
  std::string header;  // <stem>_generated.h, with the ferry_attributes include removed
  std::vector<Diagnostic> diagnostics;
};

// Runs `flatc --cpp` on a copy of `input` named <stem>.fbs (flatc 2.0.8 wants .fbs at the top
// level) that starts with `include "ferry_attributes.fbs";`, which declares ferry's method
// attributes for flatc. `display` is the input's name in diagnostics. `closure`: every file the
// schema includes, transitively (Schema::dependencies), which flatc must find exactly where
// ferryc's own parse found them. `extra_args` go to flatc as they are (see RefusedFlatcArg).
FlatcOutput RunFlatc(const std::string& flatc, const std::string& input, const std::string& display,
                     const std::vector<std::string>& include_dirs,
                     const std::vector<std::string>& closure,
                     const std::vector<std::string>& extra_args = {});

// Why flatc may not be given `arg` through ferryc (it would move, rename or re-language the
// header ferryc's code includes), or empty when it may.
std::string RefusedFlatcArg(const std::string& arg);

}  // namespace ferryc
