// Validation stage: rejects schemas flatbuffers accepts but ferry cannot generate sound code
// for. Every diagnostic points at the offending service, method or namespace.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "diagnostics.h"
#include "schema_model.h"

namespace ferryc {

// Macros of the C and C++ standard libraries: not usable as method names.
const std::set<std::string>& StandardMacroNames();

// Method names that would clash with what ferryc generates inside a service's classes.
const std::set<std::string>& ReservedMethodNames();

// Service names that would clash with what ferryc generates at namespace scope or inside the
// service class.
const std::set<std::string>& ReservedServiceNames();

// Checks `schema`; an empty result means code generation may proceed. Method ids are taken
// from the model (Method::id), so a test can inject colliding ids. `runtime_schema`: one of
// ferry's own schemas (idl/ferry/), which alone may declare namespace ferry.
std::vector<Diagnostic> Validate(const Schema& schema, bool runtime_schema = false);

}  // namespace ferryc
