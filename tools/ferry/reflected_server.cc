#include "reflected_server.h"

#include <flatbuffers/reflection.h>

#include <utility>

#include "ferry/reflection.ferry.h"

namespace ferry_cli {

ferry::Result<ReflectedServer> ReflectedServer::Load(ferry::Channel channel,
                                                     const ferry::CallOptions& options) {
  ReflectedServer server(channel, options);
  ferry::Reflection::Client reflection(std::move(channel));
  auto listed = reflection.ListServices(options);
  if (!listed.ok()) {
    if (listed.status().code() == ferry::StatusCode::kUnimplemented) {
      return ferry::Status::Unimplemented(
          "the server does not offer ferry.Reflection (ServerOptions::reflection is off): " +
          listed.status().message());
    }
    return listed.status();
  }
  const ferry::ListServicesReply& reply = **listed;
  if (reply.services() == nullptr) return server;
  for (const ferry::ReflectedService* service : *reply.services()) {
    ServiceEntry entry;
    entry.name = service->name() != nullptr ? service->name()->str() : "";
    entry.has_schema = service->has_schema();
    if (service->methods() != nullptr) {
      for (const ferry::ReflectedMethod* method : *service->methods()) {
        MethodEntry m;
        m.name = method->name() != nullptr ? method->name()->str() : "";
        m.service = entry.name;
        m.id = method->id();
        m.kind = static_cast<ferry::MethodKind>(method->kind());
        m.request_type = method->request_type() != nullptr ? method->request_type()->str() : "";
        m.reply_type = method->reply_type() != nullptr ? method->reply_type()->str() : "";
        entry.methods.push_back(std::move(m));
      }
    }
    server.services_.push_back(std::move(entry));
  }
  return server;
}

const MethodEntry* ReflectedServer::FindMethod(std::string_view name) const {
  for (const ServiceEntry& service : services_) {
    for (const MethodEntry& method : service.methods) {
      if (method.name == name) return &method;
    }
  }
  return nullptr;
}

const ServiceEntry* ReflectedServer::FindService(std::string_view name) const {
  for (const ServiceEntry& service : services_) {
    if (service.name == name) return &service;
  }
  return nullptr;
}

ferry::Result<ServiceSchema*> ReflectedServer::SchemaOf(const std::string& service) {
  if (auto known = schemas_.find(service); known != schemas_.end()) return known->second.get();
  ferry::Reflection::Client reflection(channel_);
  auto request = reflection.NewSchemaRequest();
  request.Finish(ferry::CreateSchemaRequestDirect(request.fbb(), service.c_str()));
  auto reply = reflection.Schema(std::move(request), options_);
  if (!reply.ok()) return reply.status();
  const flatbuffers::Vector<uint8_t>* bytes = (*reply)->schema();
  if (bytes == nullptr || bytes->size() == 0) {
    return ferry::Status::NotFound("the server sent no schema for " + service);
  }
  auto schema = std::make_unique<ServiceSchema>();
  schema->binary.assign(bytes->begin(), bytes->end());
  flatbuffers::Verifier verifier(schema->binary.data(), schema->binary.size());
  if (!reflection::VerifySchemaBuffer(verifier) ||
      !schema->parser.Deserialize(schema->binary.data(), schema->binary.size())) {
    return ferry::Status::DataLoss("the schema the server sent for " + service +
                                   " is not a binary FlatBuffers schema");
  }
  ServiceSchema* kept = schema.get();
  schemas_.emplace(service, std::move(schema));
  return kept;
}

}  // namespace ferry_cli
