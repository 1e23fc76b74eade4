#include "reflected_server.h"

#include <flatbuffers/reflection.h>

#include <set>
#include <string_view>
#include <utility>
#include <vector>

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
  auto schema = ReadSchema(bytes->data(), bytes->size(), service);
  if (!schema.ok()) return schema.status();
  ServiceSchema* kept = schema->get();
  schemas_.emplace(service, std::move(*schema));
  return kept;
}

namespace {

// A type's base and element type as the bytes say (reflection's accessors return them as an
// enum, which a value out of its range would make undefined behaviour).
int BaseOf(const reflection::Type& type) {
  return reinterpret_cast<const flatbuffers::Table&>(type).GetField<int8_t>(
      reflection::Type::VT_BASE_TYPE, 0);
}
int ElementOf(const reflection::Type& type) {
  return reinterpret_cast<const flatbuffers::Table&>(type).GetField<int8_t>(
      reflection::Type::VT_ELEMENT, 0);
}
constexpr int kUType = reflection::UType, kString = reflection::String,
              kVector = reflection::Vector, kObj = reflection::Obj, kUnion = reflection::Union,
              kArray = reflection::Array;

bool IsScalar(int type) { return type >= kUType && type < kString; }

// Whether `type` names only objects and enums the schema has.
bool TypeIndexValid(const reflection::Schema& schema, const reflection::Type* type) {
  if (type == nullptr) return false;
  const int32_t index = type->index();
  const bool names_object = BaseOf(*type) == kObj || ElementOf(*type) == kObj;
  const bool needs_index = names_object || BaseOf(*type) == kUnion;
  if (index < 0) return !needs_index;
  const uint32_t objects = schema.objects() != nullptr ? schema.objects()->size() : 0;
  const uint32_t enums = schema.enums() != nullptr ? schema.enums()->size() : 0;
  return static_cast<uint32_t>(index) < (names_object ? objects : enums);
}

// The field types the reflection verifier knows (it asserts on any other): in a table,
// scalars, strings, tables and structs, unions, and vectors of scalars, strings, tables or
// structs; in a struct, scalars, structs and fixed arrays of them.
bool FieldTypeKnown(const reflection::Type& type, bool in_struct) {
  const int base = BaseOf(type);
  const int element = ElementOf(type);
  if (in_struct) {
    if (base == kArray) return IsScalar(element) || element == kObj;
    return IsScalar(base) || base == kObj;
  }
  if (base == kVector) return IsScalar(element) || element == kString || element == kObj;
  return IsScalar(base) || base == kString || base == kObj || base == kUnion;
}

// Whether every name in `items` is there and said once. flatbuffers::Parser::Deserialize
// frees a definition whose name repeats but keeps it listed, and frees it again on
// destruction: a schema must not get that far.
template <class Items>
bool NamesUnique(const Items* items) {
  if (items == nullptr) return false;
  std::set<std::string_view> seen;
  for (const auto* item : *items) {
    if (item->name() == nullptr || !seen.insert(item->name()->string_view()).second) return false;
  }
  return true;
}

bool IndexesValid(const reflection::Schema& schema) {
  if (!NamesUnique(schema.objects()) || !NamesUnique(schema.enums())) return false;
  if (schema.services() != nullptr) {
    if (!NamesUnique(schema.services())) return false;
    for (const reflection::Service* service : *schema.services()) {
      if (!NamesUnique(service->calls())) return false;
    }
  }
  for (const reflection::Enum* enumeration : *schema.enums()) {
    if (!NamesUnique(enumeration->values())) return false;
  }
  for (const reflection::Object* object : *schema.objects()) {
    if (!NamesUnique(object->fields())) return false;
    // Deserialize places each field at its id, unchecked: the ids must be 0..n-1, each once.
    std::vector<bool> ids(object->fields()->size(), false);
    for (const reflection::Field* field : *object->fields()) {
      if (field->id() >= ids.size() || ids[field->id()]) return false;
      ids[field->id()] = true;
    }
    for (const reflection::Field* field : *object->fields()) {
      if (!TypeIndexValid(schema, field->type()) || (field->required() && field->optional()) ||
          !FieldTypeKnown(*field->type(), object->is_struct())) {
        return false;
      }
      const bool names_object =
          BaseOf(*field->type()) == kObj || ElementOf(*field->type()) == kObj;
      if (object->is_struct() && names_object &&
          !schema.objects()->Get(static_cast<uint32_t>(field->type()->index()))->is_struct()) {
        return false;
      }
    }
  }
  for (const reflection::Enum* enumeration : *schema.enums()) {
    // An enum is an integer; a union's members are tables (or none).
    const reflection::Type* underlying = enumeration->underlying_type();
    if (!TypeIndexValid(schema, underlying) || !IsScalar(BaseOf(*underlying)) ||
        BaseOf(*underlying) > reflection::ULong) {
      return false;
    }
    for (const reflection::EnumVal* value : *enumeration->values()) {
      const reflection::Type* member = value->union_type();
      if (member != nullptr &&
          (!TypeIndexValid(schema, member) ||
           (BaseOf(*member) != reflection::None && BaseOf(*member) != kObj))) {
        return false;
      }
    }
  }
  // Deserialize asserts that an object's size is what it makes of its fields: zero for a
  // table; for a struct, each field's size plus the gap to the next field's offset (the last:
  // padding to the struct's alignment), in id order, with its unsigned arithmetic.
  for (const reflection::Object* object : *schema.objects()) {
    if (!object->is_struct()) {
      if (object->bytesize() != 0) return false;
      continue;
    }
    std::vector<const reflection::Field*> by_id(object->fields()->size());
    for (const reflection::Field* field : *object->fields()) by_id[field->id()] = field;
    size_t bytes = 0;
    for (size_t i = 0; i < by_id.size(); ++i) {
      const reflection::Type& type = *by_id[i]->type();
      const bool array = BaseOf(type) == kArray;
      const int element = array ? ElementOf(type) : BaseOf(type);
      const size_t one =
          element == kObj
              ? static_cast<size_t>(schema.objects()->Get(type.index())->bytesize())
              : flatbuffers::GetTypeSize(static_cast<reflection::BaseType>(element));
      const size_t size = one * (array ? type.fixed_length() : 1);
      bytes += size;
      bytes += i + 1 < by_id.size()
                   ? static_cast<size_t>(by_id[i + 1]->offset() - by_id[i]->offset()) - size
                   : flatbuffers::PaddingBytes(bytes, static_cast<size_t>(object->minalign()));
    }
    if (static_cast<int>(bytes) != object->bytesize()) return false;
  }
  return true;
}

}  // namespace

ferry::Result<std::unique_ptr<ServiceSchema>> ReadSchema(const uint8_t* data, size_t size,
                                                         const std::string& service) {
  auto schema = std::make_unique<ServiceSchema>();
  schema->binary.assign(data, data + size);  // heap memory: aligned for the verifier
  flatbuffers::Verifier verifier(schema->binary.data(), schema->binary.size());
  const ferry::Status unusable = ferry::Status::DataLoss(
      "the schema the server sent for " + service + " is not a usable binary FlatBuffers schema");
  if (!reflection::VerifySchemaBuffer(verifier) ||
      !IndexesValid(*reflection::GetSchema(schema->binary.data()))) {
    return unusable;
  }
  if (!schema->parser.Deserialize(schema->binary.data(), schema->binary.size())) {
    // flatbuffers 2.0.8 frees a definition it could not read but keeps it listed, so the
    // parser's destructor would free it again: the parser is left to the process's end (the
    // tool stops at this error).
    (void)schema.release();
    return unusable;
  }
  return schema;
}

}  // namespace ferry_cli
