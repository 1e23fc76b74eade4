// ferry's view of a schema: the services, methods and message types ferryc generates code for,
// with the source locations diagnostics need. Built from flatbuffers::Parser; nothing below
// the model stage looks at the parser again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "diagnostics.h"

namespace flatbuffers {
class Parser;
}

namespace ferryc {

struct SourceLocation {
  std::string file;
  int line = 0;
  int col = 0;
};

enum class MethodKind { kUnary, kServerStreaming, kClientStreaming, kBidiStreaming, kOneway };

// "unary", "server_streaming", "client_streaming", "bidi_streaming", "oneway".
std::string_view MethodKindName(MethodKind kind);
// The ferry::MethodKind enumerator: "kUnary", "kServerStreaming", ...
std::string_view MethodKindEnumerator(MethodKind kind);

// A table, struct, enum or union, as named in the schema.
struct TypeName {
  std::vector<std::string> ns;  // namespace components, schema spelling
  std::string name;             // schema spelling
  std::string what;             // "table", "struct", "enum" or "union" (in Schema::types)
  // In Schema::types only: where it is declared (line 0 when not found), its fields (tables
  // and structs) and whether a field has it as its type.
  SourceLocation location;
  std::vector<std::pair<std::string, SourceLocation>> fields;
  bool used_as_field_type = false;

  std::string FullName() const;  // "demo.AddRequest"
  std::string CppName() const;   // flatc's C++ name: "AddRequest", "class_"
  // "::demo::AddRequest" (flatc does not escape namespace components; validation rejects
  // keyword components, so none reach here).
  std::string QualifiedCppName() const;
};

// One parameter of a method's fields-as-arguments client overload.
struct ArgField {
  enum class Kind { kScalar, kEnum, kStruct, kString };
  std::string name;  // flatc's CreateX parameter name (keyword-escaped field name)
  Kind kind = Kind::kScalar;
  std::string scalar_type;  // kScalar: "::std::int32_t", "bool", ...
  TypeName type;            // kEnum, kStruct
};

// A method's request or reply type.
struct Message {
  TypeName type;
  bool is_table = true;
  // True when every non-deprecated field is a scalar, bool, enum, struct or string: then the
  // client gets an overload taking the fields as arguments, in flatc's CreateX order.
  bool has_field_args = false;
  std::vector<ArgField> args;
};

struct Method {
  std::string name;  // schema spelling
  SourceLocation location;
  std::vector<std::string> doc;  // `///` comment lines
  std::string streaming;         // the streaming attribute as written; empty when absent
  bool oneway = false;
  std::string oneway_value;  // the oneway attribute's value as written; empty when none given
  std::string deadline_ms;   // the deadline_ms attribute as written; empty when absent
  MethodKind kind = MethodKind::kUnary;  // meaningful once validation has passed
  Message request;
  Message reply;
  uint32_t id = 0;
  std::string layout;  // MessageLayout() of request and reply

  std::string CppName() const;  // keyword-escaped
  // The name inside identifiers ferryc composes (Method::k<Name>, New<Name>Request): the
  // schema spelling in PascalCase, so "delete" gives kDelete and "get_value" kGetValue.
  std::string ComposedName() const;
};

struct Service {
  std::string name;             // schema spelling
  std::vector<std::string> ns;  // namespace components
  SourceLocation location;
  std::vector<std::string> doc;
  std::vector<Method> methods;  // declaration order
  uint64_t fingerprint = 0;

  std::string FullName() const;  // "demo.Calculator"
  std::string CppName() const;   // keyword-escaped
};

// A `namespace a.b;` declaration of the file.
struct NamespaceDecl {
  std::vector<std::string> components;
  std::vector<SourceLocation> locations;  // one per component
};

// One of ferry's method attributes (oneway, deadline_ms) written on something else.
struct MisplacedAttribute {
  std::string attribute;
  std::string holder;  // "service 'S'", "table 'T'", "field 'x'", ...
  SourceLocation location;
};

struct Schema {
  std::string file;               // the input as the user named it
  std::string stem;               // "calculator" for calculator.idl
  std::vector<Service> services;  // those declared in this file, declaration order
  std::vector<TypeName> types;    // every table, struct, enum and union known to the parser
  std::vector<std::vector<std::string>> all_namespaces;  // every namespace the parser knows
  std::vector<NamespaceDecl> namespace_decls;            // those written in this file
  std::vector<std::string> dependencies;  // absolute paths: this file, then what it includes
  std::vector<MisplacedAttribute> misplaced_attributes;  // in this file
  // Services of included files: name, namespace and (location.file only) their file.
  std::vector<TypeName> included_services;
  // Every type the parser knows, in FlatBuffers' binary schema form (reflection.fbs, as
  // flatbuffers::Parser::Serialize writes it): what ferry's reflection service hands out.
  std::vector<uint8_t> binary_schema;
};

// Builds the model of the file the parser has just parsed successfully. `parsed_name` is the
// name it was parsed under; `text` is its source (used only to find locations).
Schema BuildSchema(const flatbuffers::Parser& parser, const std::string& parsed_name,
                   const std::string& display_name, std::string_view text);

struct LoadResult {
  std::optional<Schema> schema;  // set when parsing succeeded
  std::vector<Diagnostic> diagnostics;
};

// Reads and parses `path` (directory of the file first, then `include_dirs`, as flatc does)
// and builds its model. Parser errors come back normalised.
LoadResult LoadSchema(const std::string& path, const std::vector<std::string>& include_dirs);

// Source locations found by scanning the text (the parser keeps none for services).
struct ScannedService {
  std::string name;
  SourceLocation location;
  std::vector<std::pair<std::string, SourceLocation>> methods;
};
struct ScannedType {
  std::vector<std::string> ns;  // the namespace in force at the declaration
  std::string name;
  SourceLocation location;
  std::vector<std::pair<std::string, SourceLocation>> fields;  // tables and structs
};
struct ScannedFile {
  std::vector<ScannedService> services;
  std::vector<ScannedType> types;  // tables, structs, enums and unions
  std::vector<NamespaceDecl> namespaces;
};
ScannedFile ScanLocations(std::string_view text, const std::string& file);

}  // namespace ferryc
