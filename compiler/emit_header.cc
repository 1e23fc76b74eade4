// Emits <stem>.ferry.h: per rpc_service, the service class (name, fingerprint, method ids),
// its Client stub, its Service skeleton and the FerryBind declaration.
#include <algorithm>
#include <cstdio>

#include "emit.h"
#include "names.h"

namespace ferryc {
namespace emit {

std::set<std::string> ScopeNames(const Service& service) {
  std::set<std::string> names = {
      "Client",   "Service",   "Method",    "channel_",  "self",
      "context",  "request",   "reply",     "impl",      "binding",
      "options",  "size_hint", "effective", "kFullName", "kSchemaFingerprint",
      "FerryBind"};
  names.insert(service.CppName());
  for (const Method& method : service.methods) {
    names.insert(method.CppName());
    names.insert("New" + method.name + "Request");
  }
  return names;
}

std::string TypeRef(const TypeName& type, const Service& service) {
  if (type.ns == service.ns && ScopeNames(service).count(type.CppName()) == 0) {
    return type.CppName();
  }
  return type.QualifiedCppName();
}

std::string CreateRef(const TypeName& type) {
  std::string out;
  for (const std::string& c : type.ns) out += "::" + c;
  return out + "::Create" + type.CppName();
}

std::vector<std::vector<const Service*>> GroupByNamespace(const Schema& schema) {
  std::vector<std::vector<const Service*>> groups;
  for (const Service& service : schema.services) {
    if (groups.empty() || groups.back().front()->ns != service.ns) groups.emplace_back();
    groups.back().push_back(&service);
  }
  return groups;
}

void OpenNamespace(CodeWriter& code, const std::vector<std::string>& ns) {
  for (const std::string& c : ns) code += "namespace " + c + " {";
  if (!ns.empty()) code += "";
}

void CloseNamespace(CodeWriter& code, const std::vector<std::string>& ns) {
  for (auto it = ns.rbegin(); it != ns.rend(); ++it) code += "}  // namespace " + *it;
}

std::string KindComment(MethodKind kind) {
  switch (kind) {
    case MethodKind::kUnary:
      return "(unary)";
    case MethodKind::kServerStreaming:
      return "(server streaming)";
    case MethodKind::kClientStreaming:
      return "(client streaming)";
    case MethodKind::kBidiStreaming:
      return "(bidi streaming)";
    case MethodKind::kOneway:
      return "(oneway)";
  }
  return "";
}

std::string MethodIdExpr(const Method& method, const std::string& prefix) {
  return "static_cast<::std::uint32_t>(" + prefix + "Method::k" + method.name + ")";
}

}  // namespace emit

namespace {

using emit::TypeRef;

bool IsStreaming(MethodKind kind) {
  return kind == MethodKind::kServerStreaming || kind == MethodKind::kClientStreaming ||
         kind == MethodKind::kBidiStreaming;
}

std::string Hex(uint64_t value, int digits) {
  char text[32];
  std::snprintf(text, sizeof(text), "0x%0*llx", digits, static_cast<unsigned long long>(value));
  return text;
}

// `///` lines as `//` lines, copied as written (no {{Var}} expansion) but never ending in a
// line splice.
void EmitDoc(CodeWriter& code, const std::vector<std::string>& doc) {
  for (const std::string& text : doc) code.Literal(UnsplicedComment("//" + text));
}

// `text` as `//` comment lines wrapped at the column limit.
void EmitComment(CodeWriter& code, const std::string& text) {
  std::string line = "//";
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(' ', pos);
    if (end == std::string::npos) end = text.size();
    std::string word = text.substr(pos, end - pos);
    if (line.size() > 2 &&
        code.indent() + line.size() + 1 + word.size() > static_cast<size_t>(kColumnLimit)) {
      code += line;
      line = "//";
    }
    line += " " + word;
    pos = end + 1;
  }
  code += line;
}

// A name for a generated local or parameter that no field parameter uses.
std::string Unique(const std::string& wanted, const Message& message) {
  std::string name = wanted;
  for (bool clash = true; clash;) {
    clash = false;
    for (const ArgField& arg : message.args) {
      if (arg.name == name) clash = true;
    }
    if (clash) name = "ferry_" + name;
  }
  return name;
}

void EmitServiceClass(CodeWriter& code, const Service& service) {
  EmitDoc(code, service.doc);
  code += "class {{Service}} final {";
  code += " public:";
  code.Indent();
  code += "{{Service}}() = delete;";
  code.Blank();
  code += "static constexpr ::std::string_view kFullName = \"{{FullName}}\";";
  code += "// fnv1a64 over the service name and every method's name, kind, request and reply type.";
  code += "static constexpr ::std::uint64_t kSchemaFingerprint = {{Fingerprint}}ULL;";
  code.Blank();
  code += "// Method ids travel with every call; each is fnv1a32 of the method's full name.";
  code += "enum class Method : ::std::uint32_t {";
  code.Indent();
  size_t width = 0;
  for (const Method& method : service.methods) width = std::max(width, method.name.size());
  for (const Method& method : service.methods) {
    std::string enumerator = "k" + method.name + " = " + Hex(method.id, 8) + "U,";
    std::string comment = "// fnv1a32(\"" + service.FullName() + "." + method.name + "\")";
    if (code.indent() + width + 18 + comment.size() > static_cast<size_t>(kColumnLimit)) {
      code += comment;  // too long to trail the enumerator
      code += enumerator;
      continue;
    }
    enumerator.resize(width + 16, ' ');
    code += enumerator + "  " + comment;
  }
  code.Outdent();
  code += "};";
  code.Blank();
  code += "class Client;";
  code += "class Service;";
  code.Outdent();
  code += "};";
}

std::string ReturnType(const Method& method, const Service& service) {
  if (method.kind == MethodKind::kUnary) {
    return "::ferry::Result<::ferry::ReplyView<" + TypeRef(method.reply.type, service) + ">>";
  }
  return "::ferry::Status";
}

void EmitClientMethod(CodeWriter& code, const Service& service, const Method& method) {
  const std::string request_type = TypeRef(method.request.type, service);
  const std::string builder = "::ferry::RequestBuilder<" + request_type + ">";
  const std::string ret = ReturnType(method, service);
  const std::string name = method.CppName();

  code.Blank();
  std::string comment = "// " + method.name + " " + emit::KindComment(method.kind);
  if (IsStreaming(method.kind)) {
    comment += ": the server answers UNIMPLEMENTED until the runtime serves streams.";
  } else if (method.kind == MethodKind::kOneway) {
    comment += ": OK once the server has the request; the handler's outcome is not reported.";
  } else {
    comment += ".";
  }
  if (!method.deadline_ms.empty()) {
    comment += " Default deadline: " + method.deadline_ms + " ms (deadline_ms), used when the" +
               " options set none.";
  }
  EmitComment(code, comment.substr(3));
  EmitDoc(code, method.doc);

  // New<Method>Request
  code += WrapDeclaration(code.indent(), builder, "New" + method.name + "Request(",
                          {"::std::size_t size_hint = 0"}, ") const {");
  code.Indent();
  code += WrapCall(code.indent(), "return " + builder + "(", {"*channel_", "size_hint"}, ");");
  code.Outdent();
  code += "}";

  // Method(RequestBuilder&&, options)
  code += WrapDeclaration(code.indent(), ret, name + "(",
                          {builder + "&& request", "const ::ferry::CallOptions& options = {}"},
                          ") const {");
  std::string options = "options";
  if (!method.deadline_ms.empty()) {
    code += "  ::ferry::CallOptions effective = options;";
    code += "  if (effective.deadline.count() == 0) {";
    code += "    effective.deadline = ::std::chrono::milliseconds(" + method.deadline_ms + ");";
    code += "  }";
    options = "effective";
  }
  const std::string id = emit::MethodIdExpr(method, "");
  std::string call;
  std::vector<std::string> args = {"*channel_", id};
  switch (method.kind) {
    case MethodKind::kUnary:
      call = "return ::ferry::internal::CallUnary<" + TypeRef(method.reply.type, service) + ">(";
      break;
    case MethodKind::kOneway:
      call = "return ::ferry::internal::CallOneway(";
      break;
    default:
      call = "return ::ferry::internal::CallStreaming(";
      args.push_back("::ferry::MethodKind::" + std::string(MethodKindEnumerator(method.kind)));
      break;
  }
  args.push_back("::std::move(request)");
  args.push_back(options);
  code.Indent();
  code += WrapCall(code.indent(), call, args, ");");
  code.Outdent();
  code += "}";

  // Method(field..., options): only for unary and oneway calls whose request fields all fit.
  if (IsStreaming(method.kind) || !method.request.has_field_args) return;
  const std::string local = Unique("request", method.request);
  const std::string opts = Unique("options", method.request);
  std::vector<std::string> params;
  std::vector<std::string> create_args = {local + ".fbb()"};
  for (const ArgField& arg : method.request.args) {
    switch (arg.kind) {
      case ArgField::Kind::kScalar:
        params.push_back(arg.scalar_type + " " + arg.name);
        create_args.push_back(arg.name);
        break;
      case ArgField::Kind::kEnum:
        params.push_back(arg.type.QualifiedCppName() + " " + arg.name);
        create_args.push_back(arg.name);
        break;
      case ArgField::Kind::kStruct:
        params.push_back("const " + arg.type.QualifiedCppName() + "* " + arg.name);
        create_args.push_back(arg.name);
        break;
      case ArgField::Kind::kString:
        params.push_back("::std::string_view " + arg.name);
        create_args.push_back(local + ".fbb().CreateString(" + arg.name + ".data(), " + arg.name +
                              ".size())");
        break;
    }
  }
  params.push_back("const ::ferry::CallOptions& " + opts + " = {}");
  code += WrapDeclaration(code.indent(), ret, name + "(", params, ") const {");
  code.Indent();
  code += "auto " + local + " = this->New" + method.name + "Request();";
  code += WrapCall(code.indent(), local + ".Finish(" + emit::CreateRef(method.request.type) + "(",
                   create_args, "));");
  code += "return this->" + name + "(::std::move(" + local + "), " + opts + ");";
  code.Outdent();
  code += "}";
}

void EmitClient(CodeWriter& code, const Service& service) {
  code += "// A typed stub over a ferry::Channel. Cheap to create and copy; safe to share between";
  code += "// threads. The channel must outlive the client.";
  code += "class {{Service}}::Client {";
  code += " public:";
  code.Indent();
  code += "explicit Client(::ferry::Channel& channel) : channel_(&channel) {}";
  for (const Method& method : service.methods) EmitClientMethod(code, service, method);
  code.Outdent();
  code.Blank();
  code += " private:";
  code += "  ::ferry::Channel* channel_;";
  code += "};";
}

void EmitServiceSkeleton(CodeWriter& code, const Service& service) {
  code +=
      "// Derive from this, override the methods the server implements, and pass an instance to";
  code +=
      "// ferry::Server::Add. Unimplemented methods answer UNIMPLEMENTED, so a schema that gains";
  code +=
      "// methods never breaks an existing server. Handlers may run on several threads at once.";
  code += "class {{Service}}::Service {";
  code += " public:";
  code.Indent();
  code += "virtual ~Service() = default;";
  std::vector<std::string> streaming;
  for (const Method& method : service.methods) {
    if (IsStreaming(method.kind)) {
      streaming.push_back(method.name + " " + emit::KindComment(method.kind));
      continue;
    }
    const std::string request = "const " + TypeRef(method.request.type, service) + "& request";
    code.Blank();
    if (method.kind == MethodKind::kOneway) {
      EmitComment(code,
                  method.name + " (oneway). Default: UNIMPLEMENTED (not reported to the client).");
      EmitDoc(code, method.doc);
      code += WrapDeclaration(code.indent(), "virtual ::ferry::Status", method.CppName() + "(",
                              {"::ferry::CallContext& context", request}, ");");
    } else {
      EmitComment(code, method.name + " (unary). Default: UNIMPLEMENTED.");
      EmitDoc(code, method.doc);
      code +=
          WrapDeclaration(code.indent(), "virtual ::ferry::Status", method.CppName() + "(",
                          {"::ferry::CallContext& context", request,
                           "::ferry::Reply<" + TypeRef(method.reply.type, service) + ">& reply"},
                          ");");
    }
  }
  if (!streaming.empty()) {
    code.Blank();
    std::string list;
    for (size_t i = 0; i < streaming.size(); ++i) {
      if (i > 0) list += ", ";
      list += streaming[i];
    }
    EmitComment(code, "Not overridable yet: " + list +
                          ". The server answers them UNIMPLEMENTED until the runtime serves " +
                          "streams.");
  }
  code.Outdent();
  code += "};";
}

}  // namespace

std::string EmitHeader(const Schema& schema) {
  CodeWriter code;
  code.Set("File", schema.file.substr(schema.file.find_last_of('/') + 1));
  code.Set("Stem", schema.stem);
  bool any_deadline = false;
  for (const Service& service : schema.services) {
    for (const Method& method : service.methods) any_deadline |= !method.deadline_ms.empty();
  }

  code += "// Generated by ferryc from {{File}}. DO NOT EDIT.";
  code += "// Stubs (Client) and skeletons (Service) for its rpc_services; the messages themselves";
  code += "// are flatc's, in {{Stem}}_generated.h.";
  code += "#pragma once";
  code.Blank();
  if (any_deadline) code += "#include <chrono>";
  code += "#include <cstddef>";
  code += "#include <cstdint>";
  code += "#include <memory>";
  code += "#include <string_view>";
  code += "#include <utility>";
  code.Blank();
  code += "#include <ferry/generated_support.h>";
  code.Blank();
  code += "#include \"{{Stem}}_generated.h\"";
  code.Blank();
  code += WrapCall(
      0, "static_assert(",
      {"::ferry::kGeneratedCodeVersion == 1", "\"" + schema.stem +
                                                  ".ferry.h was generated by a different ferryc: "
                                                  "regenerate it\""},
      ");");
  if (schema.services.empty()) {
    code.Blank();
    code += "// {{File}} declares no rpc_service.";
  }

  for (const std::vector<const Service*>& group : emit::GroupByNamespace(schema)) {
    code.Blank();
    emit::OpenNamespace(code, group.front()->ns);
    for (const Service* service : group) {
      code.Set("Service", service->CppName());
      code.Set("FullName", service->FullName());
      code.Set("Fingerprint", Hex(service->fingerprint, 16));
      EmitServiceClass(code, *service);
      code.Blank();
      EmitClient(code, *service);
      code.Blank();
      EmitServiceSkeleton(code, *service);
      code.Blank();
      code +=
          "// Binds an implementation to ferry::Server (found by argument-dependent lookup from";
      code += "// Server::Add).";
      code += "::ferry::ServiceBinding FerryBind(::std::shared_ptr<{{Service}}::Service> impl);";
      code.Blank();
    }
    emit::CloseNamespace(code, group.front()->ns);
  }
  return code.str();
}

}  // namespace ferryc
