// A method's message layout as ferryc writes it (compiler/message_layout.cc), read back, and
// the question a server asks of a client's: can these two sides exchange messages? The text
// comes from the peer in a schema check, so the reader trusts nothing in it.
//
// Format, one item per line:
//   ferry-layout 1
//   request <table name>
//   reply <table name>
// then every type the two reach, each a header line and its members:
//   table <name>             field <id> <name> <type> [required] [deprecated]
//   struct <name> <bytes>    field <offset> <name> <type>
//   union <name>             member <value> <type>
// where <type> is a scalar (bool byte ubyte short ushort int uint long ulong float double),
// string, utype (a union's type field), table:<name>, struct:<name>, union:<name>,
// [<type>] (a vector) or [<type>:<n>] (a struct's fixed array). Enums appear as their
// underlying scalar: that is what their bytes mean.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/result.h"

namespace ferry::internal {

// Longest layout text read: a peer cannot make a server parse more.
inline constexpr size_t kMaxLayoutBytes = 256 * 1024;

struct LayoutMember {
  uint32_t place = 0;  // a table field's id, a struct field's offset, a union member's value
  std::string name;    // empty for union members
  std::string type;
  bool required = false;
  bool deprecated = false;
};

struct LayoutType {
  enum class Kind { kTable, kStruct, kUnion } kind = Kind::kTable;
  uint32_t bytes = 0;  // structs
  std::vector<LayoutMember> members;
};

struct MessageLayout {
  std::string request;
  std::string reply;
  std::map<std::string, LayoutType, std::less<>> types;
};

// INVALID_ARGUMENT, naming the line, for text that is not a layout.
Result<MessageLayout> ParseLayout(std::string_view text);

// Whether messages that `writer` builds as its type `writer_type` read correctly as
// `reader`'s `reader_type` (a field both know has the same type, recursively; a field the
// reader requires is one the writer writes; structs are identical). Empty when they do, else
// the first difference, in words that call the two sides `writer_side` and `reader_side`.
std::string Incompatibility(const MessageLayout& writer, std::string_view writer_type,
                            std::string_view writer_side, const MessageLayout& reader,
                            std::string_view reader_type, std::string_view reader_side);

}  // namespace ferry::internal
