// Validation stage: ferry's own rules on top of what flatbuffers::Parser enforces.
//
// Rules (each an error at the offending declaration):
//  - `streaming:` is "none", "server", "client" or "bidi" (flatc --grpc silently turns any other
//    value into unary; ferry refuses it).
//  - `oneway` only on non-streaming methods. A oneway method's reply type is never sent: it may
//    be any table (flatbuffers already requires tables), and nothing is generated for it.
//  - `oneway` takes no value (1 and "true" are tolerated): `oneway: 0` would otherwise make a
//    oneway call of what its author meant as a call with a reply.
//  - `oneway` and `deadline_ms` appear on rpc methods only; on a service, type or field they
//    would be silently ignored, so they are errors there.
//  - `deadline_ms` is a whole number of milliseconds, 1 to 2^31-1.
//  - Request and reply types are tables (flatbuffers checks this too; kept for hand-built models).
//  - Method ids (fnv1a32 of "ns.Service.Method") are unique across the file: ids are never
//    re-salted, because every peer must be able to recompute them.
//  - Method names do not clash with generated names: the reserved set below, New<X>Request of
//    another method X, <X>Async of another unary method X, another method once C++ keywords
//    are escaped, or another method with the same composed name (Method::ComposedName:
//    "get_value" and "GetValue").
//  - Service names do not clash with a type, a namespace, another service (after escaping) in
//    the same namespace, or the generated names in ReservedServiceNames().
//  - Namespace components are not C++ keywords: flatc 2.0.8 does not escape them, so its own
//    header would not compile.
//  - Nothing collides with the namespaces generated code relies on: no type or service named
//    `ferry` or `std` in the global namespace; no type, service or namespace component named
//    `flatbuffers` anywhere (flatc writes `flatbuffers::` unqualified); no schema namespace
//    `ferry` or `ferry.internal` (the runtime's own: its types would land among the runtime's
//    declarations) and none inside `std` (undefined behaviour in C++).
//  - A service of an included file keeps its name: this file declares no namespace or type of
//    the same C++ name, and no type named FerryBind where a service is (the generated binder
//    function would hide it).
//  - A service is not named like a class flatc generates in its namespace: `<Table>Builder`,
//    `<Union>Traits` (the options ferryc runs flatc with generate no others).
//  - Type and field names compile in flatc's own output: no C++20 keyword flatc does not
//    escape (char8_t, consteval, constinit), and no keyword-named type used as a field's type.
//  - Method names are not standard macros (`assert`, `errno`, ...): the preprocessor would
//    rewrite or reject the generated declarations.
#include "validate.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "names.h"

namespace ferryc {
namespace {

Diagnostic ErrorAt(const SourceLocation& where, std::string message) {
  return Diagnostic{where.file, where.line, where.col, std::move(message), Severity::kError};
}

std::string Hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08x", value);
  return text;
}

bool IsPositiveMillis(const std::string& text) {
  if (text.empty() || text.size() > 10) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  long long value = std::stoll(text);
  return value >= 1 && value <= 2147483647LL;
}

// flatc's generated code writes `flatbuffers::` unqualified, so anything of that name in an
// enclosing scope (a namespace component, a type, a service) captures it.
constexpr const char* kFlatbuffers = "flatbuffers";
std::string HidesFlatbuffers(const std::string& what) {
  return what + " named 'flatbuffers' hides namespace ::flatbuffers from flatc's generated code";
}

// Namespaces generated code names from the global scope (`::std::`, `::ferry::`).
const std::set<std::string>& GlobalNamespaces() {
  static const std::set<std::string> kNames = {"ferry", "std"};
  return kNames;
}

void CheckMethod(const Service& service, const Method& method, std::vector<Diagnostic>& out) {
  const std::string& s = method.streaming;
  if (!s.empty() && s != "none" && s != "server" && s != "client" && s != "bidi") {
    out.push_back(ErrorAt(method.location,
                          "unknown streaming value \"" + s + "\" for method '" + method.name +
                              "'; expected \"none\", \"server\", \"client\" or \"bidi\""));
  } else if (method.oneway && !method.oneway_value.empty() && method.oneway_value != "1" &&
             method.oneway_value != "true") {
    out.push_back(ErrorAt(method.location, "oneway of method '" + method.name +
                                               "' takes no value (or 1 or \"true\"), got \"" +
                                               method.oneway_value +
                                               "\"; leave the attribute out for a call with a "
                                               "reply"));
  } else if (method.oneway && !s.empty() && s != "none") {
    out.push_back(ErrorAt(
        method.location,
        "method '" + method.name + "' is oneway and cannot also be streaming \"" + s + "\""));
  }
  if (!method.deadline_ms.empty() && !IsPositiveMillis(method.deadline_ms)) {
    out.push_back(ErrorAt(method.location,
                          "deadline_ms of method '" + method.name +
                              "' must be a whole number of milliseconds from 1 to 2147483647, "
                              "got \"" +
                              method.deadline_ms + "\""));
  }
  for (const Message* message : {&method.request, &method.reply}) {
    if (!message->is_table) {
      out.push_back(
          ErrorAt(method.location, std::string(message == &method.request ? "request" : "reply") +
                                       " type '" + message->type.FullName() + "' of method '" +
                                       method.name + "' is a struct; rpc types must be tables"));
    }
  }
  if (StandardMacroNames().count(method.name) != 0) {
    out.push_back(ErrorAt(method.location, "method name '" + method.name +
                                               "' is a standard C/C++ macro; the generated " +
                                               "code would not compile"));
  }
  if (ReservedMethodNames().count(method.name) != 0) {
    out.push_back(ErrorAt(method.location, "method name '" + method.name +
                                               "' clashes with a name ferryc generates in " +
                                               "service '" + service.name + "'"));
  }
  for (const Method& other : service.methods) {
    if (&other == &method) continue;
    if (method.name == "New" + other.ComposedName() + "Request") {
      out.push_back(ErrorAt(method.location, "method name '" + method.name +
                                                 "' clashes with the request builder ferryc " +
                                                 "generates for method '" + other.name + "'"));
    }
    if (other.kind == MethodKind::kUnary && method.name == other.name + "Async") {
      out.push_back(ErrorAt(method.location, "method name '" + method.name +
                                                 "' clashes with the asynchronous call ferryc " +
                                                 "generates for method '" + other.name + "'"));
    }
  }
  // Same C++ name as an earlier method ("class" and "class_"), or the same composed names
  // ("get_value" and "GetValue" both make Method::kGetValue and NewGetValueRequest).
  for (const Method& other : service.methods) {
    if (&other == &method) break;
    if (other.name == method.name) continue;  // the parser reports duplicates
    if (other.CppName() == method.CppName()) {
      out.push_back(ErrorAt(method.location, "method name '" + method.name + "' and method '" +
                                                 other.name + "' are both '" + method.CppName() +
                                                 "' in C++"));
    } else if (other.ComposedName() == method.ComposedName()) {
      out.push_back(ErrorAt(method.location, "method name '" + method.name + "' and method '" +
                                                 other.name + "' both make Method::k" +
                                                 method.ComposedName() + " and New" +
                                                 method.ComposedName() + "Request"));
    }
  }
}

void CheckService(const Schema& schema, const Service& service, std::vector<Diagnostic>& out) {
  if (ReservedServiceNames().count(service.name) != 0) {
    out.push_back(ErrorAt(service.location, "service name '" + service.name +
                                                "' clashes with a name ferryc generates"));
  }
  if (service.ns.empty() && GlobalNamespaces().count(service.name) != 0) {
    out.push_back(ErrorAt(service.location, "service '" + service.name +
                                                "' in the global namespace clashes with "
                                                "namespace ::" +
                                                service.name + " used by the generated code"));
  } else if (service.name == kFlatbuffers) {
    out.push_back(ErrorAt(service.location, HidesFlatbuffers("service")));
  }
  for (const TypeName& type : schema.types) {
    if (type.ns != service.ns) continue;
    if (type.CppName() == service.CppName()) {
      out.push_back(ErrorAt(service.location, "service '" + service.name +
                                                  "' has the same C++ name as " + type.what + " '" +
                                                  type.FullName() + "'"));
    }
    const char* suffix = type.what == "table" ? "Builder" : type.what == "union" ? "Traits" : "";
    if (*suffix != '\0' && type.CppName() + suffix == service.CppName()) {
      out.push_back(ErrorAt(service.location, "service '" + service.name +
                                                  "' has the same C++ name as the class flatc "
                                                  "generates for " +
                                                  type.what + " '" + type.FullName() + "'"));
    }
  }
  std::vector<std::string> as_namespace = service.ns;
  as_namespace.push_back(service.name);
  for (const std::vector<std::string>& ns : schema.all_namespaces) {
    if (ns.size() >= as_namespace.size() &&
        std::equal(as_namespace.begin(), as_namespace.end(), ns.begin())) {
      out.push_back(ErrorAt(service.location, "service '" + service.name +
                                                  "' has the same name as namespace '" +
                                                  JoinDotted(as_namespace) + "'"));
      break;
    }
  }
  for (const Service& other : schema.services) {
    if (&other == &service) break;
    if (other.ns == service.ns && other.name != service.name &&
        other.CppName() == service.CppName()) {
      out.push_back(ErrorAt(service.location, "service name '" + service.name + "' and service '" +
                                                  other.name + "' are both '" + service.CppName() +
                                                  "' in C++"));
    }
  }
}

void CheckNamespaces(const Schema& schema, bool runtime_schema, std::vector<Diagnostic>& out) {
  for (const NamespaceDecl& decl : schema.namespace_decls) {
    for (size_t i = 0; i < decl.components.size(); ++i) {
      if (IsCppKeyword(decl.components[i])) {
        out.push_back(ErrorAt(decl.locations[i],
                              "namespace component '" + decl.components[i] +
                                  "' is a C++ keyword; flatc does not escape namespaces, so "
                                  "the generated C++ would not compile"));
      }
    }
    for (size_t i = 0; i < decl.components.size(); ++i) {
      if (decl.components[i] == kFlatbuffers) {
        out.push_back(ErrorAt(decl.locations[i], HidesFlatbuffers("namespace component")));
      }
    }
    // ferry.test and the like are fine: nothing of the runtime lives there.
    const std::vector<std::string>& c = decl.components;
    if (!runtime_schema && !c.empty() && c[0] == "ferry" &&
        (c.size() == 1 || c[1] == "internal")) {
      out.push_back(ErrorAt(decl.locations[0], "namespace '" + JoinDotted(c) +
                                                   "' belongs to the ferry runtime; its types "
                                                   "would collide with the runtime's"));
    }
    if (!c.empty() && c[0] == "std") {
      out.push_back(ErrorAt(decl.locations[0], "namespace '" + JoinDotted(c) +
                                                   "' is inside namespace std, where C++ "
                                                   "forbids user declarations"));
    }
  }
  // A service of an included file is a class: this file cannot reuse its name for a
  // namespace or a type.
  for (const TypeName& service : schema.included_services) {
    std::vector<std::string> as_namespace = service.ns;
    as_namespace.push_back(service.name);
    for (const NamespaceDecl& decl : schema.namespace_decls) {
      if (decl.components.size() >= as_namespace.size() &&
          std::equal(as_namespace.begin(), as_namespace.end(), decl.components.begin())) {
        out.push_back(ErrorAt(decl.locations[service.ns.size()],
                              "namespace '" + JoinDotted(as_namespace) +
                                  "' has the same name as service '" + service.FullName() +
                                  "' of " + service.location.file));
      }
    }
    for (const TypeName& type : schema.types) {
      if (type.location.file == schema.file && type.ns == service.ns &&
          type.CppName() == EscapeIdentifier(service.name)) {
        out.push_back(ErrorAt(type.location, type.what + " '" + type.FullName() +
                                                 "' has the same C++ name as service '" +
                                                 service.FullName() + "' of " +
                                                 service.location.file));
      }
    }
  }
  // ferryc declares a FerryBind function in each namespace with a service; it would hide a
  // type of that name.
  for (const TypeName& type : schema.types) {
    if (type.name != "FerryBind") continue;
    std::vector<std::pair<std::vector<std::string>, std::string>> services;  // ns, full name
    for (const Service& service : schema.services) {
      services.emplace_back(service.ns, service.FullName());
    }
    for (const TypeName& service : schema.included_services) {
      services.emplace_back(service.ns, service.FullName());
    }
    for (const auto& [ns, service] : services) {
      if (ns == type.ns) {
        out.push_back(ErrorAt(type.location, type.what + " '" + type.FullName() +
                                                 "' would be hidden by the FerryBind function "
                                                 "ferryc generates for service '" +
                                                 service + "'"));
        break;
      }
    }
  }
  for (const TypeName& type : schema.types) {
    if (type.name == kFlatbuffers) {
      out.push_back(ErrorAt(type.location, HidesFlatbuffers(type.what)));
    } else if (type.ns.empty() && GlobalNamespaces().count(type.name) != 0) {
      out.push_back(ErrorAt(type.location, type.what + " '" + type.name +
                                               "' in the global namespace clashes with "
                                               "namespace ::" +
                                               type.name + " used by the generated code"));
    }
  }
}

// flatc 2.0.8 escapes keywords in declarations but not where a field names its type, and does
// not escape the C++20 keywords missing from its list at all.
void CheckFlatcNames(const Schema& schema, std::vector<Diagnostic>& out) {
  auto unescaped = [](const std::string& name) {
    return IsCppKeyword(name) && EscapeKeyword(name) == name;
  };
  for (const TypeName& type : schema.types) {
    if (unescaped(type.name)) {
      out.push_back(ErrorAt(type.location, type.what + " name '" + type.name +
                                               "' is a C++ keyword flatc does not escape, so "
                                               "its generated C++ would not compile"));
    } else if (IsCppKeyword(type.name) && type.used_as_field_type) {
      out.push_back(ErrorAt(type.location, type.what + " name '" + type.name +
                                               "' is a C++ keyword and a field's type; flatc "
                                               "does not escape it there, so its generated C++ "
                                               "would not compile"));
    }
    for (const auto& [name, location] : type.fields) {
      if (unescaped(name)) {
        out.push_back(ErrorAt(location, "field name '" + name +
                                            "' is a C++ keyword flatc does not escape, so its "
                                            "generated C++ would not compile"));
      }
    }
  }
}

}  // namespace

const std::set<std::string>& StandardMacroNames() {
  // Macros the C and C++ standard headers define (and __cplusplus): object-like ones replace
  // the method's name with an expression, function-like ones swallow its parameter list.
  // clang-format off
  static const std::set<std::string> kNames = [] {
    std::set<std::string> names = {
        "assert", "errno", "offsetof", "setjmp", "va_start", "va_end", "va_arg", "va_copy",
        "NULL", "EOF", "__cplusplus", "NDEBUG", "EXIT_SUCCESS", "EXIT_FAILURE", "RAND_MAX",
        "MB_CUR_MAX", "MB_LEN_MAX", "BUFSIZ", "FILENAME_MAX", "FOPEN_MAX", "L_tmpnam", "TMP_MAX",
        "SEEK_SET", "SEEK_CUR", "SEEK_END", "_IOFBF", "_IOLBF", "_IONBF", "stdin", "stdout",
        "stderr", "EDOM", "ERANGE", "EILSEQ", "CLOCKS_PER_SEC", "TIME_UTC", "HUGE_VAL",
        "HUGE_VALF", "HUGE_VALL", "INFINITY", "NAN", "math_errhandling", "MATH_ERRNO",
        "MATH_ERREXCEPT", "FP_NAN", "FP_INFINITE", "FP_ZERO", "FP_NORMAL", "FP_SUBNORMAL",
        "SIG_DFL", "SIG_IGN", "SIG_ERR", "SIGABRT", "SIGFPE", "SIGILL", "SIGINT", "SIGSEGV",
        "SIGTERM", "LC_ALL", "LC_COLLATE", "LC_CTYPE", "LC_MONETARY", "LC_NUMERIC", "LC_TIME",
        "WEOF", "WCHAR_MIN", "WCHAR_MAX", "WINT_MIN", "WINT_MAX", "CHAR_BIT", "SCHAR_MIN",
        "SCHAR_MAX", "UCHAR_MAX", "CHAR_MIN", "CHAR_MAX", "SHRT_MIN", "SHRT_MAX", "USHRT_MAX",
        "INT_MIN", "INT_MAX", "UINT_MAX", "LONG_MIN", "LONG_MAX", "ULONG_MAX", "LLONG_MIN",
        "LLONG_MAX", "ULLONG_MAX", "SIZE_MAX", "PTRDIFF_MIN", "PTRDIFF_MAX", "SIG_ATOMIC_MIN",
        "SIG_ATOMIC_MAX", "INTPTR_MIN", "INTPTR_MAX", "UINTPTR_MAX", "INTMAX_MIN", "INTMAX_MAX",
        "UINTMAX_MAX", "INTMAX_C", "UINTMAX_C"};
    // <cstdint>'s INT8_MIN ... UINT_FAST64_MAX and INT8_C ... UINT64_C.
    for (const char* bits : {"8", "16", "32", "64"}) {
      for (const char* kind : {"", "_LEAST", "_FAST"}) {
        const std::string s = std::string(kind) + bits;
        names.insert("INT" + s + "_MIN");
        names.insert("INT" + s + "_MAX");
        names.insert("UINT" + s + "_MAX");
      }
      names.insert(std::string("INT") + bits + "_C");
      names.insert(std::string("UINT") + bits + "_C");
    }
    return names;
  }();
  // clang-format on
  return kNames;
}

const std::set<std::string>& ReservedMethodNames() {
  // Client/Service/Method: nested names of the service class. channel_, channel: the client's
  // member and its accessor.
  static const std::set<std::string> kNames = {"Client", "Service", "Method", "channel_",
                                               "channel"};
  return kNames;
}

const std::set<std::string>& ReservedServiceNames() {
  // FerryBind: the namespace-scope binder. Client/Service/Method: a class cannot nest a type
  // named like itself.
  static const std::set<std::string> kNames = {"FerryBind", "Client", "Service", "Method"};
  return kNames;
}

std::vector<Diagnostic> Validate(const Schema& schema, bool runtime_schema) {
  std::vector<Diagnostic> out;
  for (const MisplacedAttribute& misplaced : schema.misplaced_attributes) {
    out.push_back(ErrorAt(misplaced.location, "attribute '" + misplaced.attribute + "' on " +
                                                  misplaced.holder +
                                                  " has no effect: ferry reads it on rpc methods "
                                                  "only"));
  }
  CheckNamespaces(schema, runtime_schema, out);
  CheckFlatcNames(schema, out);
  std::map<uint32_t, std::string> ids;  // id -> "ns.Service.Method"
  for (const Service& service : schema.services) {
    CheckService(schema, service, out);
    for (const Method& method : service.methods) {
      CheckMethod(service, method, out);
      std::string full = service.FullName() + "." + method.name;
      auto [it, inserted] = ids.emplace(method.id, full);
      if (!inserted) {
        out.push_back(ErrorAt(method.location, "method id " + Hex32(method.id) + " of '" + full +
                                                   "' collides with '" + it->second +
                                                   "' (fnv1a32 of the full names); rename " +
                                                   "one of the methods"));
      }
    }
  }
  return out;
}

}  // namespace ferryc
