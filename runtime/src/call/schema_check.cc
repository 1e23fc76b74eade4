// Building a schema check and judging one against the server's methods.
#include "call/schema_check.h"

#include <set>
#include <string>

#include "call/schema_layout.h"
#include "ferry/protocol_generated.h"

namespace ferry::internal {
namespace {

// At most this many service names in an UNIMPLEMENTED verdict.
constexpr size_t kServicesNamed = 8;

std::string ServedServices(const MethodTable& methods) {
  std::set<std::string> services;
  for (const auto& [id, method] : methods) {
    services.insert(method->name.substr(0, method->name.rfind('.')));
  }
  if (services.empty()) return "it serves nothing";
  std::string text = "it serves ";
  size_t named = 0;
  for (const std::string& service : services) {
    if (named == kServicesNamed) {
      text += ", ...";
      break;
    }
    text += (named++ == 0 ? "" : ", ") + service;
  }
  return text;
}

std::string_view Text(const flatbuffers::String* text) {
  return text != nullptr ? text->string_view() : std::string_view();
}

}  // namespace

void BuildSchemaCheck(const MethodSignature& method, MethodKind kind, OutgoingMessage& message) {
  flatbuffers::FlatBufferBuilder& fbb = message.fbb();
  const auto name = fbb.CreateString(method.full_name.data(), method.full_name.size());
  const auto layout = fbb.CreateString(method.layout.data(), method.layout.size());
  fbb.Finish(protocol::CreateSchemaCheck(fbb, method.id, name, static_cast<uint8_t>(kind), layout));
  message.MarkFinished();
}

Status JudgeSchemaCheck(const MethodTable& methods, const uint8_t* request, size_t size) {
  flatbuffers::Verifier verifier(request, size);
  if (request == nullptr || !verifier.VerifyBuffer<protocol::SchemaCheck>(nullptr)) {
    return Status::InvalidArgument("ferry.Schema.Check: the request is not a SchemaCheck");
  }
  const protocol::SchemaCheck& check = *flatbuffers::GetRoot<protocol::SchemaCheck>(request);
  const std::string client_name(Text(check.method()));
  const auto found = methods.find(check.method_id());
  if (found == methods.end()) {
    return Status::Unimplemented("this server has no method " + client_name + " (" +
                                 ServedServices(methods) + ")");
  }
  const ServiceBinding::Method& method = *found->second;
  if (method.name != client_name) {
    return Status::FailedPrecondition("the client's " + client_name + " and the server's " +
                                      method.name + " have the same method id; rename one");
  }
  if (check.kind() != static_cast<uint8_t>(method.kind)) {
    const std::string client_kind =
        check.kind() <= static_cast<uint8_t>(MethodKind::kOneway)
            ? std::string(MethodKindName(static_cast<MethodKind>(check.kind())))
            : "unknown";
    return Status::FailedPrecondition(
        method.name + " is a " + std::string(MethodKindName(method.kind)) +
        " method on the server but " + client_kind + " for the client");
  }
  if (method.layout.empty()) return Status::Ok();  // bound by hand, without a layout
  Result<MessageLayout> server = ParseLayout(method.layout);
  if (!server.ok()) {
    return Status::Internal(
        method.name + ": the server's own layout is unreadable: " + server.status().message());
  }
  Result<MessageLayout> client = ParseLayout(Text(check.layout()));
  if (!client.ok()) {
    return Status::InvalidArgument(
        method.name + ": the client's layout is unreadable: " + client.status().message());
  }
  if (client->request != server->request) {
    return Status::FailedPrecondition(method.name + ": the client sends " + client->request +
                                      " but the server reads " + server->request);
  }
  if (client->reply != server->reply) {
    return Status::FailedPrecondition(method.name + ": the server replies " + server->reply +
                                      " but the client reads " + client->reply);
  }
  if (std::string why =
          Incompatibility(*client, client->request, "client", *server, server->request, "server");
      !why.empty()) {
    return Status::FailedPrecondition(method.name + ": the client's request " + client->request +
                                      " and the server's " + server->request + " differ: " + why);
  }
  if (std::string why =
          Incompatibility(*server, server->reply, "server", *client, client->reply, "client");
      !why.empty()) {
    return Status::FailedPrecondition(method.name + ": the server's reply " + server->reply +
                                      " and the client's " + client->reply + " differ: " + why);
  }
  return Status::Ok();
}

}  // namespace ferry::internal
