// Model stage: flatbuffers::Parser -> Schema/Service/Method, plus the source locations the
// parser does not keep (found by scanning the text for rpc_service blocks; not a parser).
#include "schema_model.h"

#include <flatbuffers/idl.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "message_layout.h"
#include "method_ids.h"
#include "names.h"

namespace ferryc {
namespace {

namespace fs = std::filesystem;

std::string JoinQualified(const std::vector<std::string>& ns, const std::string& name) {
  std::string out;
  for (const std::string& c : ns) out += "::" + c;
  return out + "::" + name;
}

TypeName MakeTypeName(const flatbuffers::Definition& def) {
  TypeName type;
  if (def.defined_namespace != nullptr) type.ns = def.defined_namespace->components;
  type.name = def.name;
  return type;
}

const char* ScalarCppType(flatbuffers::BaseType type) {
  switch (type) {
    case flatbuffers::BASE_TYPE_BOOL:
      return "bool";
    case flatbuffers::BASE_TYPE_CHAR:
      return "::std::int8_t";
    case flatbuffers::BASE_TYPE_UCHAR:
      return "::std::uint8_t";
    case flatbuffers::BASE_TYPE_SHORT:
      return "::std::int16_t";
    case flatbuffers::BASE_TYPE_USHORT:
      return "::std::uint16_t";
    case flatbuffers::BASE_TYPE_INT:
      return "::std::int32_t";
    case flatbuffers::BASE_TYPE_UINT:
      return "::std::uint32_t";
    case flatbuffers::BASE_TYPE_LONG:
      return "::std::int64_t";
    case flatbuffers::BASE_TYPE_ULONG:
      return "::std::uint64_t";
    case flatbuffers::BASE_TYPE_FLOAT:
      return "float";
    case flatbuffers::BASE_TYPE_DOUBLE:
      return "double";
    default:
      return nullptr;
  }
}

// The argument for `field` in the fields-as-arguments overload, or nothing when the field's
// type cannot be one (unions, vectors, nested tables, optional scalars).
std::optional<ArgField> MakeArgField(const flatbuffers::FieldDef& field) {
  const flatbuffers::Type& type = field.value.type;
  ArgField arg;
  arg.name = EscapeKeyword(field.name);
  if (field.IsScalarOptional()) return std::nullopt;
  if (type.base_type == flatbuffers::BASE_TYPE_STRING) {
    arg.kind = ArgField::Kind::kString;
    return arg;
  }
  if (type.base_type == flatbuffers::BASE_TYPE_STRUCT) {
    if (type.struct_def == nullptr || !type.struct_def->fixed) return std::nullopt;
    arg.kind = ArgField::Kind::kStruct;
    arg.type = MakeTypeName(*type.struct_def);
    return arg;
  }
  if (type.base_type == flatbuffers::BASE_TYPE_UTYPE ||
      type.base_type == flatbuffers::BASE_TYPE_UNION) {
    return std::nullopt;
  }
  const char* scalar = ScalarCppType(type.base_type);
  if (scalar == nullptr) return std::nullopt;
  if (type.enum_def != nullptr && !type.enum_def->is_union) {
    arg.kind = ArgField::Kind::kEnum;
    arg.type = MakeTypeName(*type.enum_def);
    return arg;
  }
  arg.kind = ArgField::Kind::kScalar;
  arg.scalar_type = scalar;
  return arg;
}

Message MakeMessage(const flatbuffers::StructDef& def) {
  Message message;
  message.type = MakeTypeName(def);
  message.is_table = !def.fixed;
  message.has_field_args = message.is_table;
  for (const flatbuffers::FieldDef* field : def.fields.vec) {
    if (field->deprecated) continue;
    std::optional<ArgField> arg = MakeArgField(*field);
    if (!arg) {
      message.has_field_args = false;
      message.args.clear();
      break;
    }
    message.args.push_back(std::move(*arg));
  }
  return message;
}

// The attributes ferry declares for flatbuffers; they mean something on rpc methods only.
constexpr const char* kMethodAttributes[] = {"oneway", "deadline_ms"};

MethodKind KindOf(const std::string& streaming, bool oneway) {
  if (streaming == "server") return MethodKind::kServerStreaming;
  if (streaming == "client") return MethodKind::kClientStreaming;
  if (streaming == "bidi") return MethodKind::kBidiStreaming;
  return oneway ? MethodKind::kOneway : MethodKind::kUnary;
}

// --- Location scanning -------------------------------------------------------------------

struct Token {
  enum Kind { kIdent, kString, kPunct, kEnd } kind = kEnd;
  std::string text;
  int line = 0;
  int col = 0;
};

class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  Token Next() {
    SkipSpaceAndComments();
    Token token;
    token.line = line_;
    token.col = col_;
    if (pos_ >= text_.size()) return token;
    char c = text_[pos_];
    if (IsIdentStart(c) || IsDigit(c)) {
      token.kind = Token::kIdent;
      while (pos_ < text_.size() && (IsIdentStart(text_[pos_]) || IsDigit(text_[pos_]))) {
        token.text += text_[pos_];
        Advance();
      }
    } else if (c == '"' || c == '\'') {
      token.kind = Token::kString;
      Advance();
      while (pos_ < text_.size() && text_[pos_] != c) {
        if (text_[pos_] == '\\') Advance();
        if (pos_ < text_.size()) {
          token.text += text_[pos_];
          Advance();
        }
      }
      Advance();
    } else {
      token.kind = Token::kPunct;
      token.text = std::string(1, c);
      Advance();
    }
    return token;
  }

 private:
  static bool IsIdentStart(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  }
  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }

  void Advance() {
    if (pos_ >= text_.size()) return;
    if (text_[pos_] == '\n') {
      ++line_;
      col_ = 1;
    } else {
      ++col_;
    }
    ++pos_;
  }

  void SkipSpaceAndComments() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        Advance();
      } else if (text_.substr(pos_, 2) == "//") {
        while (pos_ < text_.size() && text_[pos_] != '\n') Advance();
      } else if (text_.substr(pos_, 2) == "/*") {
        Advance();
        Advance();
        while (pos_ < text_.size() && text_.substr(pos_, 2) != "*/") Advance();
        Advance();
        Advance();
      } else {
        return;
      }
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
  int col_ = 1;
};

std::string ReadFile(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  *ok = static_cast<bool>(in) || in.eof();
  return text.str();
}

}  // namespace

std::string_view MethodKindName(MethodKind kind) {
  switch (kind) {
    case MethodKind::kUnary:
      return "unary";
    case MethodKind::kServerStreaming:
      return "server_streaming";
    case MethodKind::kClientStreaming:
      return "client_streaming";
    case MethodKind::kBidiStreaming:
      return "bidi_streaming";
    case MethodKind::kOneway:
      return "oneway";
  }
  return "unary";
}

std::string_view MethodKindEnumerator(MethodKind kind) {
  switch (kind) {
    case MethodKind::kUnary:
      return "kUnary";
    case MethodKind::kServerStreaming:
      return "kServerStreaming";
    case MethodKind::kClientStreaming:
      return "kClientStreaming";
    case MethodKind::kBidiStreaming:
      return "kBidiStreaming";
    case MethodKind::kOneway:
      return "kOneway";
  }
  return "kUnary";
}

std::string TypeName::FullName() const {
  std::string dotted = JoinDotted(ns);
  return dotted.empty() ? name : dotted + "." + name;
}
std::string TypeName::CppName() const { return EscapeKeyword(name); }
std::string TypeName::QualifiedCppName() const { return JoinQualified(ns, CppName()); }

std::string Method::CppName() const { return EscapeIdentifier(name); }

std::string Method::ComposedName() const {
  std::string composed;
  bool word_start = true;
  for (const char c : name) {
    if (c == '_') {
      word_start = true;
      continue;
    }
    composed += word_start && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
    word_start = false;
  }
  return composed.empty() ? name : composed;  // "_" stays itself
}

std::string Service::FullName() const {
  std::string dotted = JoinDotted(ns);
  return dotted.empty() ? name : dotted + "." + name;
}
std::string Service::CppName() const { return EscapeIdentifier(name); }

ScannedFile ScanLocations(std::string_view text, const std::string& file) {
  ScannedFile scanned;
  Scanner scanner(text);
  int depth = 0;
  std::vector<std::string> current_ns;
  Token token = scanner.Next();
  while (token.kind != Token::kEnd) {
    if (token.kind == Token::kPunct && token.text == "{") ++depth;
    if (token.kind == Token::kPunct && token.text == "}") --depth;
    if (depth == 0 && token.kind == Token::kIdent &&
        (token.text == "table" || token.text == "struct" || token.text == "enum" ||
         token.text == "union")) {
      const bool has_fields = token.text == "table" || token.text == "struct";
      token = scanner.Next();
      if (token.kind != Token::kIdent) continue;
      scanned.types.push_back({current_ns, token.text, {file, token.line, token.col}, {}});
      if (!has_fields) {
        token = scanner.Next();
        continue;
      }
      // Fields: the first name of each `;`-terminated declaration in the block.
      while (token.kind != Token::kEnd && !(token.kind == Token::kPunct && token.text == "{")) {
        token = scanner.Next();
      }
      int block_depth = 1;
      bool expect_field = true;
      token = scanner.Next();
      while (token.kind != Token::kEnd && block_depth > 0) {
        if (token.kind == Token::kPunct) {
          if (token.text == "{") ++block_depth;
          if (token.text == "}") --block_depth;
          if (token.text == ";") expect_field = true;
        } else if (token.kind == Token::kIdent && expect_field && block_depth == 1) {
          scanned.types.back().fields.push_back({token.text, {file, token.line, token.col}});
          expect_field = false;
        }
        token = scanner.Next();
      }
      continue;
    }
    if (depth == 0 && token.kind == Token::kIdent && token.text == "namespace") {
      NamespaceDecl decl;
      token = scanner.Next();
      while (token.kind == Token::kIdent) {
        decl.components.push_back(token.text);
        decl.locations.push_back({file, token.line, token.col});
        token = scanner.Next();
        if (token.kind != Token::kPunct || token.text != ".") break;
        token = scanner.Next();
      }
      current_ns = decl.components;
      scanned.namespaces.push_back(std::move(decl));
      continue;
    }
    if (depth == 0 && token.kind == Token::kIdent && token.text == "rpc_service") {
      token = scanner.Next();
      if (token.kind != Token::kIdent) continue;
      ScannedService service;
      service.name = token.text;
      service.location = {file, token.line, token.col};
      // Skip service attributes up to the opening brace.
      while (token.kind != Token::kEnd && !(token.kind == Token::kPunct && token.text == "{")) {
        token = scanner.Next();
      }
      int block_depth = 1;
      bool expect_method = true;
      token = scanner.Next();
      while (token.kind != Token::kEnd && block_depth > 0) {
        if (token.kind == Token::kPunct) {
          if (token.text == "{") ++block_depth;
          if (token.text == "}") --block_depth;
          if (token.text == ";") expect_method = true;
        } else if (token.kind == Token::kIdent && expect_method && block_depth == 1) {
          service.methods.push_back({token.text, {file, token.line, token.col}});
          expect_method = false;
        }
        token = scanner.Next();
      }
      scanned.services.push_back(std::move(service));
      continue;
    }
    token = scanner.Next();
  }
  return scanned;
}

Schema BuildSchema(const flatbuffers::Parser& parser, const std::string& parsed_name,
                   const std::string& display_name, std::string_view text) {
  Schema schema;
  schema.file = display_name;
  schema.stem = fs::path(display_name).stem().string();

  ScannedFile scanned = ScanLocations(text, display_name);
  schema.namespace_decls = scanned.namespaces;

  size_t service_index = 0;
  for (const flatbuffers::ServiceDef* def : parser.services_.vec) {
    if (def->file != parsed_name) {  // declared in an included file
      TypeName& included = schema.included_services.emplace_back(MakeTypeName(*def));
      included.what = "service";
      included.location.file = fs::absolute(def->file).lexically_normal().string();
      continue;
    }
    Service service;
    service.name = def->name;
    if (def->defined_namespace != nullptr) service.ns = def->defined_namespace->components;
    service.doc = def->doc_comment;
    const ScannedService* where =
        service_index < scanned.services.size() ? &scanned.services[service_index] : nullptr;
    if (where != nullptr && where->name != def->name) where = nullptr;
    service.location = where != nullptr ? where->location : SourceLocation{display_name, 0, 0};
    ++service_index;
    for (const char* attribute : kMethodAttributes) {
      if (def->attributes.Lookup(attribute) != nullptr) {
        schema.misplaced_attributes.push_back(
            {attribute, "service '" + def->name + "'", service.location});
      }
    }

    std::vector<FingerprintedMethod> fingerprinted;
    for (size_t i = 0; i < def->calls.vec.size(); ++i) {
      const flatbuffers::RPCCall& call = *def->calls.vec[i];
      Method method;
      method.name = call.name;
      method.doc = call.doc_comment;
      if (where != nullptr && i < where->methods.size() && where->methods[i].first == call.name) {
        method.location = where->methods[i].second;
      } else {
        method.location = service.location;
      }
      if (const flatbuffers::Value* v = call.attributes.Lookup("streaming")) {
        method.streaming = v->constant;
      }
      if (const flatbuffers::Value* v = call.attributes.Lookup("oneway")) {
        method.oneway = true;
        // A bare `oneway` comes back as the untyped constant "0".
        if (v->type.base_type != flatbuffers::BASE_TYPE_NONE) method.oneway_value = v->constant;
      }
      if (const flatbuffers::Value* v = call.attributes.Lookup("deadline_ms")) {
        method.deadline_ms = v->constant;
      }
      method.kind = KindOf(method.streaming, method.oneway);
      method.request = MakeMessage(*call.request);
      method.reply = MakeMessage(*call.response);
      method.id = MethodId(service.FullName(), method.name);
      method.layout = MessageLayout(*call.request, *call.response);
      fingerprinted.push_back({method.name, std::string(MethodKindName(method.kind)),
                               method.request.type.FullName(), method.reply.type.FullName()});
      service.methods.push_back(std::move(method));
    }
    service.fingerprint = SchemaFingerprint(service.FullName(), fingerprinted);
    schema.services.push_back(std::move(service));
  }

  // Declarations of included files are found by scanning those files too (once each).
  std::map<std::string, ScannedFile> scanned_includes;
  auto locate = [&](const flatbuffers::Definition& def, TypeName* type) {
    const ScannedFile* where = &scanned;
    if (def.file != parsed_name) {
      const std::string file = fs::absolute(def.file).lexically_normal().string();
      auto it = scanned_includes.find(file);
      if (it == scanned_includes.end()) {
        bool ok = false;
        std::string included = ReadFile(file, &ok);
        it = scanned_includes.emplace(file, ScanLocations(ok ? included : "", file)).first;
      }
      where = &it->second;
      type->location.file = file;
    } else {
      type->location.file = display_name;
    }
    for (const ScannedType& candidate : where->types) {
      if (candidate.name == type->name && candidate.ns == type->ns) {
        type->location = candidate.location;
        return &candidate;
      }
    }
    return static_cast<const ScannedType*>(nullptr);
  };
  auto note_misplaced = [&](const flatbuffers::Definition& def, const std::string& holder,
                            const SourceLocation& where) {
    if (def.file != parsed_name) return;
    for (const char* attribute : kMethodAttributes) {
      if (def.attributes.Lookup(attribute) != nullptr) {
        schema.misplaced_attributes.push_back({attribute, holder, where});
      }
    }
  };
  // The definitions some field names as its type (flatc spells those uses differently).
  std::set<const flatbuffers::Definition*> field_types;
  for (const flatbuffers::StructDef* def : parser.structs_.vec) {
    for (const flatbuffers::FieldDef* field : def->fields.vec) {
      const flatbuffers::Type& type = field->value.type;
      if (type.struct_def != nullptr) field_types.insert(type.struct_def);
      if (type.enum_def != nullptr &&
          !(type.base_type == flatbuffers::BASE_TYPE_VECTOR && !type.enum_def->is_union)) {
        field_types.insert(type.enum_def);
      }
    }
  }
  for (const flatbuffers::StructDef* def : parser.structs_.vec) {
    TypeName& type = schema.types.emplace_back(MakeTypeName(*def));
    type.what = def->fixed ? "struct" : "table";
    type.used_as_field_type = field_types.count(def) != 0;
    const ScannedType* scanned_type = locate(*def, &type);
    note_misplaced(*def, type.what + " '" + def->name + "'", type.location);
    for (const flatbuffers::FieldDef* field : def->fields.vec) {
      SourceLocation where = type.location;
      if (scanned_type != nullptr) {
        for (const auto& [name, location] : scanned_type->fields) {
          if (name == field->name) where = location;
        }
      }
      type.fields.push_back({field->name, where});
      if (def->file == parsed_name) {
        for (const char* attribute : kMethodAttributes) {
          if (field->attributes.Lookup(attribute) != nullptr) {
            schema.misplaced_attributes.push_back(
                {attribute, "field '" + field->name + "'", where});
          }
        }
      }
    }
  }
  for (const flatbuffers::EnumDef* def : parser.enums_.vec) {
    TypeName& type = schema.types.emplace_back(MakeTypeName(*def));
    type.what = def->is_union ? "union" : "enum";
    type.used_as_field_type = field_types.count(def) != 0;
    locate(*def, &type);
    note_misplaced(*def, type.what + " '" + def->name + "'", type.location);
  }
  for (const flatbuffers::Namespace* ns : parser.namespaces_) {
    schema.all_namespaces.push_back(ns->components);
  }

  schema.dependencies.push_back(parsed_name);
  for (const std::string& file : parser.GetIncludedFilesRecursive(parsed_name)) {
    std::string normal = fs::absolute(file).lexically_normal().string();
    if (normal != parsed_name) schema.dependencies.push_back(normal);
  }
  return schema;
}

LoadResult LoadSchema(const std::string& path, const std::vector<std::string>& include_dirs) {
  LoadResult result;
  const std::string absolute = fs::absolute(path).lexically_normal().string();
  bool ok = false;
  std::string text = ReadFile(absolute, &ok);
  if (!ok) {
    result.diagnostics.push_back({path, 0, 0, "cannot read file", Severity::kError});
    return result;
  }

  flatbuffers::IDLOptions options;
  options.lang_to_generate = flatbuffers::IDLOptions::kCpp;  // as `flatc --cpp` validates
  flatbuffers::Parser parser(options);
  parser.known_attributes_["oneway"] = true;
  parser.known_attributes_["deadline_ms"] = true;

  // The file's own directory first, then -I dirs; all absolute so the depfile is too.
  std::vector<std::string> dirs;
  dirs.push_back(fs::path(absolute).parent_path().string() + "/");
  for (const std::string& dir : include_dirs) {
    dirs.push_back(fs::absolute(dir).lexically_normal().string() + "/");
  }
  std::vector<const char*> dir_ptrs;
  for (const std::string& dir : dirs) dir_ptrs.push_back(dir.c_str());
  dir_ptrs.push_back(nullptr);

  bool parsed = parser.Parse(text.c_str(), dir_ptrs.data(), absolute.c_str());
  std::error_code ignored;
  const std::string canonical = fs::weakly_canonical(absolute, ignored).string();
  for (Diagnostic& d : ParseFlatbuffersMessages(parser.error_)) {
    if (d.file == absolute || d.file == canonical) d.file = path;
    result.diagnostics.push_back(std::move(d));
  }
  if (!parsed) {
    if (!HasErrors(result.diagnostics)) {
      result.diagnostics.push_back(
          {path, 0, 0, "flatbuffers could not parse the schema", Severity::kError});
    }
    return result;
  }
  result.schema = BuildSchema(parser, absolute, path, text);
  // ferry's method attributes count as the parser's own, which Serialize leaves out: declared
  // as the user's, they stay in the binary schema for reflection to show.
  for (const char* attribute : {"streaming", "oneway", "deadline_ms"}) {
    parser.known_attributes_[attribute] = false;
  }
  parser.Serialize();
  const uint8_t* binary = parser.builder_.GetBufferPointer();
  result.schema->binary_schema.assign(binary, binary + parser.builder_.GetSize());
  return result;
}

}  // namespace ferryc
