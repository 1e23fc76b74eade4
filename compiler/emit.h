// Emit stage: the text of <stem>.ferry.h and <stem>.ferry.cc for a validated Schema.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "code_writer.h"
#include "schema_model.h"

namespace ferryc {

std::string EmitHeader(const Schema& schema);
std::string EmitSource(const Schema& schema);

// Helpers shared by the two emitters (defined in emit_header.cc).
namespace emit {

// Names that generated code declares in the scopes where a service's message types are named
// (nested classes, members, parameters): a type spelled like one of them is fully qualified.
std::set<std::string> ScopeNames(const Service& service);

// How `type` is spelled inside `service`'s generated code: unqualified when it lives in the
// service's namespace and nothing generated shadows it, else "::ns::Type".
std::string TypeRef(const TypeName& type, const Service& service);

// flatc's CreateX function for table `type`, fully qualified: a parameter of the
// fields-as-arguments overload may be named like it.
std::string CreateRef(const TypeName& type);

// Runs of consecutive services sharing a namespace, in declaration order.
std::vector<std::vector<const Service*>> GroupByNamespace(const Schema& schema);

void OpenNamespace(CodeWriter& code, const std::vector<std::string>& ns);
void CloseNamespace(CodeWriter& code, const std::vector<std::string>& ns);

// "(unary)", "(server streaming)", ...
std::string KindComment(MethodKind kind);

// "<Method>Async": the asynchronous client call of a unary method.
std::string AsyncName(const Method& method);

// The parameters of a Service method's handler: "::ferry::CallContext& context", then the
// request, reply, writer, reader or stream its kind takes; without the names unless `named`.
std::vector<std::string> HandlerParams(const Service& service, const Method& method, bool named);

// static_cast<::std::uint32_t>(<prefix>Method::k<Name>)
std::string MethodSignatureExpr(const Service& service, const Method& method,
                                const std::string& prefix);

}  // namespace emit
}  // namespace ferryc
