// The layout of a method's request and reply types as text: every table, struct, enum and
// union they reach, with each field's id, name, type and flags. Generated code carries it so
// that a server can tell a client built from an incompatible schema from one built from a
// compatible evolution of it (runtime/src/call/schema_layout.h reads it; the format is
// described there).
#pragma once

#include <flatbuffers/idl.h>

#include <string>

namespace ferryc {

std::string MessageLayout(const flatbuffers::StructDef& request,
                          const flatbuffers::StructDef& reply);

}  // namespace ferryc
