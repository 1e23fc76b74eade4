// Emits <stem>.ferry.h: per rpc_service, the service class (name, fingerprint, method ids),
// its Client stub, its Service skeleton and the FerryBind declaration.
#include <algorithm>
#include <cstdio>

#include "emit.h"
#include "names.h"

namespace ferryc {
namespace emit {

std::set<std::string> ScopeNames(const Service& service) {
  // The service class's members, the client's, and the parameters and locals of generated
  // functions (Callback: the async callback's template parameter).
  std::set<std::string> names = {
      "Client",    "Service",  "Method", "kFullName", "kSchemaFingerprint",
      "kSignatures", "FerryBind", "channel_", "channel"};
  names.insert({"self", "context", "request", "reply", "writer", "reader", "stream", "impl",
                "binding", "options", "size_hint", "effective", "callback", "Callback"});
  names.insert(service.CppName());
  for (const Method& method : service.methods) {
    names.insert(method.CppName());
    names.insert("New" + method.ComposedName() + "Request");
    if (method.kind == MethodKind::kUnary) names.insert(AsyncName(method));
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

std::string AsyncName(const Method& method) { return method.name + "Async"; }

std::vector<std::string> HandlerParams(const Service& service, const Method& method, bool named) {
  const std::string request = TypeRef(method.request.type, service);
  const std::string reply = TypeRef(method.reply.type, service);
  auto param = [named](const std::string& type, const char* name) {
    return named ? type + " " + name : type;
  };
  std::vector<std::string> params = {param("::ferry::CallContext&", "context")};
  switch (method.kind) {
    case MethodKind::kUnary:
      params.push_back(param("const " + request + "&", "request"));
      params.push_back(param("::ferry::Reply<" + reply + ">&", "reply"));
      break;
    case MethodKind::kOneway:
      params.push_back(param("const " + request + "&", "request"));
      break;
    case MethodKind::kServerStreaming:
      params.push_back(param("const " + request + "&", "request"));
      params.push_back(param("::ferry::ServerWriter<" + reply + ">&", "writer"));
      break;
    case MethodKind::kClientStreaming:
      params.push_back(param("::ferry::ServerReader<" + request + ">&", "reader"));
      params.push_back(param("::ferry::Reply<" + reply + ">&", "reply"));
      break;
    case MethodKind::kBidiStreaming:
      params.push_back(param("::ferry::ServerStream<" + request + ", " + reply + ">&", "stream"));
      break;
  }
  return params;
}

std::string MethodSignatureExpr(const Service& service, const Method& method,
                                const std::string& prefix) {
  const size_t index = static_cast<size_t>(&method - service.methods.data());
  return prefix + "kSignatures[" + std::to_string(index) + "]";
}

}  // namespace emit

namespace {

using emit::AsyncName;
using emit::TypeRef;

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

void EmitSignatures(CodeWriter& code, const Service& service);

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
  for (const Method& method : service.methods) {
    width = std::max(width, method.ComposedName().size());
  }
  for (const Method& method : service.methods) {
    // Appended, not "k" + ...: GCC 12 at -O2 warns (-Wrestrict) on a literal + a temporary.
    std::string enumerator = "k";
    enumerator += method.ComposedName();
    enumerator += " = " + Hex(method.id, 8) + "U,";
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
  if (!service.methods.empty()) EmitSignatures(code, service);
  code += "class Client;";
  code += "class Service;";
  code.Outdent();
  code += "};";
}

void EmitSignatures(CodeWriter& code, const Service& service) {
  code += "// Each method's id, name and message layout, in declaration order. A client sends a";
  code += "// method's layout with its first call on a connection; the server refuses a client";
  code += "// whose messages it would misread (FAILED_PRECONDITION).";
  code += "static constexpr ::ferry::MethodSignature kSignatures[] = {";
  code.Indent();
  for (const Method& method : service.methods) {
    code.Literal("{" + Hex(method.id, 8) + "U, \"" + service.FullName() + "." + method.name +
                 "\",");
    code.Indent();
    std::string layout = method.layout;
    while (!layout.empty()) {
      const size_t end = layout.find('\n');
      std::string line = layout.substr(0, end);
      layout.erase(0, end == std::string::npos ? std::string::npos : end + 1);
      code.Literal("\"" + line + "\\n\"" + (layout.empty() ? "}," : ""));
    }
    code.Outdent();
  }
  code.Outdent();
  code += "};";
  code.Blank();
}

// The options a call is made with: `options`, or, for a method with deadline_ms, a copy that
// carries that deadline when the caller set none (the lines that make it are emitted first).
std::string EffectiveOptions(CodeWriter& code, const Method& method) {
  if (method.deadline_ms.empty()) return "options";
  code += "::ferry::CallOptions effective = options;";
  code += "if (effective.deadline.count() == 0) {";
  code += "  effective.deadline = ::std::chrono::milliseconds(" + method.deadline_ms + ");";
  code += "}";
  return "effective";
}

// `ret name(params) const { return <call>(args..., options); }`, the options made effective.
void EmitCallingMethod(CodeWriter& code, const Method& method, const std::string& ret,
                       const std::string& name, std::vector<std::string> params,
                       const std::string& call, std::vector<std::string> args) {
  params.push_back("const ::ferry::CallOptions& options = {}");
  code += WrapDeclaration(code.indent(), ret, name + "(", params, ") const {");
  code.Indent();
  args.push_back(EffectiveOptions(code, method));
  code += WrapCall(code.indent(), "return " + call + "(", args, ");");
  code.Outdent();
  code += "}";
}

// `ret name(field..., options) const`: builds the request from its fields and calls
// `target(request, options)`. Only for requests whose fields all fit (has_field_args).
// `name`(fields..., options) building the request from its fields and passing it to `target`.
// With `callback_result` (the async callback form): a `Callback` parameter before the options,
// constrained to be invocable with that result type, and passed on to `target`.
void EmitFieldsOverload(CodeWriter& code, const Method& method, const std::string& ret,
                        const std::string& name, const std::string& target,
                        const std::string& callback_result = "") {
  const std::string local = Unique("request", method.request);
  const std::string opts = Unique("options", method.request);
  const std::string callback = Unique("callback", method.request);
  const std::string callback_type = Unique("Callback", method.request);
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
  if (!callback_result.empty()) {
    params.push_back(callback_type + " " + callback);
    code += "template <class " + callback_type + ">";
    code += WrapCall(code.indent(), "  requires ::std::invocable<",
                     {callback_type + "&", callback_result}, ">");
  }
  params.push_back("const ::ferry::CallOptions& " + opts + " = {}");
  code += WrapDeclaration(code.indent(), ret, name + "(", params, ") const {");
  code.Indent();
  code += "auto " + local + " = this->New" + method.ComposedName() + "Request();";
  code += WrapCall(code.indent(), local + ".Finish(" + emit::CreateRef(method.request.type) + "(",
                   create_args, "));");
  if (callback_result.empty()) {
    code += "return this->" + target + "(::std::move(" + local + "), " + opts + ");";
  } else {
    code += WrapCall(code.indent(), "this->" + target + "(",
                     {"::std::move(" + local + ")", "::std::move(" + callback + ")", opts}, ");");
  }
  code.Outdent();
  code += "}";
}

std::string ClientComment(const Method& method) {
  std::string comment = method.name + " " + emit::KindComment(method.kind);
  switch (method.kind) {
    case MethodKind::kUnary:
      comment += ". " + AsyncName(method) +
                 " does not wait; a callback passed to it gets the result on the channel's " +
                 "completion thread (on this thread if the call has already ended).";
      break;
    case MethodKind::kServerStreaming:
      comment += ": read the replies with a range-for, then Finish().";
      break;
    case MethodKind::kClientStreaming:
      comment += ": Write() messages made by NewMessage(), then Finish() for the reply.";
      break;
    case MethodKind::kBidiStreaming:
      comment += ": Write() messages made by NewMessage() and Read() the replies in any " +
                 std::string("order, then Finish().");
      break;
    case MethodKind::kOneway:
      comment += ": OK once the server has the request; the handler's outcome is not reported.";
      break;
  }
  if (!method.deadline_ms.empty()) {
    comment += " Default deadline: " + method.deadline_ms + " ms (deadline_ms), used when the" +
               " options set none.";
  }
  return comment;
}

void EmitClientMethod(CodeWriter& code, const Service& service, const Method& method) {
  const std::string request_type = TypeRef(method.request.type, service);
  const std::string reply_type = TypeRef(method.reply.type, service);
  const std::string builder = "::ferry::RequestBuilder<" + request_type + ">";
  const std::string name = method.CppName();
  const std::string id = emit::MethodSignatureExpr(service, method, "");

  code.Blank();
  EmitComment(code, ClientComment(method));
  EmitDoc(code, method.doc);

  // Client and bidi streams open without a request: messages come from the stream's
  // NewMessage().
  if (method.kind == MethodKind::kClientStreaming || method.kind == MethodKind::kBidiStreaming) {
    const bool client = method.kind == MethodKind::kClientStreaming;
    const std::string types = "<" + request_type + ", " + reply_type + ">";
    const std::string ret =
        (client ? "::ferry::ClientWriter" : "::ferry::ClientReaderWriter") + types;
    const std::string call = (client ? "::ferry::internal::CallClientStreaming"
                                     : "::ferry::internal::CallBidiStreaming") +
                             types;
    EmitCallingMethod(code, method, ret, name, {}, call, {"channel_", id});
    return;
  }

  // New<Method>Request
  code += WrapDeclaration(code.indent(), builder, "New" + method.ComposedName() + "Request(",
                          {"::std::size_t size_hint = 0"}, ") const {");
  code.Indent();
  code += WrapCall(code.indent(), "return " + builder + "(", {"channel_", "size_hint"}, ");");
  code.Outdent();
  code += "}";

  // Method(RequestBuilder&&, options), then the same from the request's fields.
  const std::vector<std::string> params = {builder + "&& request"};
  const std::vector<std::string> args = {"channel_", id, "::std::move(request)"};
  std::string ret;
  switch (method.kind) {
    case MethodKind::kUnary:
      ret = "::ferry::Result<::ferry::ReplyView<" + reply_type + ">>";
      EmitCallingMethod(code, method, ret, name, params,
                        "::ferry::internal::CallUnary<" + reply_type + ">", args);
      break;
    case MethodKind::kServerStreaming:
      ret = "::ferry::ClientReader<" + reply_type + ">";
      EmitCallingMethod(code, method, ret, name, params,
                        "::ferry::internal::CallServerStreaming<" + reply_type + ">", args);
      break;
    default:  // oneway
      ret = "::ferry::Status";
      EmitCallingMethod(code, method, ret, name, params, "::ferry::internal::CallOneway", args);
      break;
  }
  if (method.request.has_field_args) EmitFieldsOverload(code, method, ret, name, name);
  if (method.kind != MethodKind::kUnary) return;

  // <Method>Async(RequestBuilder&&, options), with a callback, and from the request's fields.
  const std::string async = AsyncName(method);
  const std::string async_ret = "::ferry::AsyncReply<" + reply_type + ">";
  EmitCallingMethod(code, method, async_ret, async, params,
                    "::ferry::internal::CallAsync<" + reply_type + ">", args);
  const std::string result = "::ferry::Result<::ferry::ReplyView<" + reply_type + ">>";
  code += "template <class Callback>";
  code += WrapCall(code.indent(), "  requires ::std::invocable<", {"Callback&", result}, ">");
  code += WrapDeclaration(
      code.indent(), "void", async + "(",
      {builder + "&& request", "Callback callback", "const ::ferry::CallOptions& options = {}"},
      ") const {");
  code += "  this->" + async + "(::std::move(request), options).Then(::std::move(callback));";
  code += "}";
  if (method.request.has_field_args) {
    EmitFieldsOverload(code, method, async_ret, async, async);
    EmitFieldsOverload(code, method, "void", async, async, result);
  }
}

void EmitClient(CodeWriter& code, const Service& service) {
  code += "// A typed stub over a ferry::Channel, which it holds a copy of (copies share the";
  code += "// connection). Cheap to create and copy; safe to share between threads.";
  code += "class {{Service}}::Client {";
  code += " public:";
  code.Indent();
  code += "explicit Client(::ferry::Channel channel) : channel_(::std::move(channel)) {}";
  code.Blank();
  code += "const ::ferry::Channel& channel() const { return channel_; }";
  for (const Method& method : service.methods) EmitClientMethod(code, service, method);
  code.Outdent();
  code.Blank();
  code += " private:";
  code += "  ::ferry::Channel channel_;";
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
  for (const Method& method : service.methods) {
    std::string comment = method.name + " " + emit::KindComment(method.kind);
    switch (method.kind) {
      case MethodKind::kUnary:
        comment += ". Default: UNIMPLEMENTED.";
        break;
      case MethodKind::kOneway:
        comment += ". Default: UNIMPLEMENTED (not reported to the client).";
        break;
      case MethodKind::kServerStreaming:
        comment += ". Default: UNIMPLEMENTED. Write() each reply (stop once a Write() fails); " +
                   std::string("returning ends the stream.");
        break;
      case MethodKind::kClientStreaming:
        comment += ". Default: UNIMPLEMENTED. Read the messages with a range-for, then finish " +
                   std::string("the reply.");
        break;
      case MethodKind::kBidiStreaming:
        comment += ". Default: UNIMPLEMENTED. Read() and Write() in any order; returning ends " +
                   std::string("the call.");
        break;
    }
    code.Blank();
    EmitComment(code, comment);
    EmitDoc(code, method.doc);
    code += WrapDeclaration(code.indent(), "virtual ::ferry::Status", method.CppName() + "(",
                            emit::HandlerParams(service, method, true), ");");
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
  bool any_unary = false;  // its <Method>Async callback overload names ::std::invocable
  for (const Service& service : schema.services) {
    for (const Method& method : service.methods) {
      any_deadline |= !method.deadline_ms.empty();
      any_unary |= method.kind == MethodKind::kUnary;
    }
  }

  code += "// Generated by ferryc from {{File}}. DO NOT EDIT.";
  code += "// Stubs (Client) and skeletons (Service) for its rpc_services; the messages themselves";
  code += "// are flatc's, in {{Stem}}_generated.h.";
  code += "#pragma once";
  code.Blank();
  if (any_deadline) code += "#include <chrono>";
  if (any_unary) code += "#include <concepts>";
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
      {"::ferry::kGeneratedCodeVersion == 4", "\"" + schema.stem +
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
