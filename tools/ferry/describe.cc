#include "describe.h"

namespace ferry_cli {

std::string FullName(const flatbuffers::Definition& definition) {
  return definition.defined_namespace != nullptr
             ? definition.defined_namespace->GetFullyQualifiedName(definition.name)
             : definition.name;
}

namespace {

// What the schema names, or "?" where a schema from a peer names nothing.
std::string NameOf(const flatbuffers::Definition* definition) {
  return definition != nullptr ? FullName(*definition) : "?";
}

std::string TypeText(const flatbuffers::Type& type) {
  switch (type.base_type) {
    case flatbuffers::BASE_TYPE_STRUCT:
      return NameOf(type.struct_def);
    case flatbuffers::BASE_TYPE_UNION:
      return NameOf(type.enum_def);
    case flatbuffers::BASE_TYPE_VECTOR:
      return "[" + TypeText(type.VectorType()) + "]";
    case flatbuffers::BASE_TYPE_ARRAY:
      return "[" + TypeText(type.VectorType()) + ":" + std::to_string(type.fixed_length) + "]";
    default:
      if (type.enum_def != nullptr) return FullName(*type.enum_def);
      if (type.base_type < flatbuffers::BASE_TYPE_NONE ||
          type.base_type > flatbuffers::BASE_TYPE_ARRAY) {
        return "?";
      }
      return flatbuffers::kTypeNames[type.base_type];
  }
}

std::string MethodLine(const flatbuffers::RPCCall& call) {
  std::string line = call.name + "(" + NameOf(call.request) + "):" + NameOf(call.response);
  std::string attributes;
  if (const flatbuffers::Value* streaming = call.attributes.Lookup("streaming")) {
    attributes = "streaming: \"" + streaming->constant + "\"";
  }
  if (call.attributes.Lookup("oneway") != nullptr) {
    attributes = attributes.empty() ? "oneway" : "oneway, " + attributes;
  }
  return line + (attributes.empty() ? "" : " (" + attributes + ")") + ";";
}

const flatbuffers::ServiceDef* FindService(const flatbuffers::Parser& parser,
                                           std::string_view name) {
  for (const flatbuffers::ServiceDef* service : parser.services_.vec) {
    if (FullName(*service) == name) return service;
  }
  return nullptr;
}

}  // namespace

std::optional<std::string> DescribeService(const flatbuffers::Parser& parser,
                                           std::string_view service) {
  const flatbuffers::ServiceDef* found = FindService(parser, service);
  if (found == nullptr) return std::nullopt;
  std::string text = "rpc_service " + FullName(*found) + " {\n";
  for (const flatbuffers::RPCCall* call : found->calls.vec) text += "  " + MethodLine(*call) + "\n";
  return text + "}\n";
}

std::optional<std::string> DescribeMethod(const flatbuffers::Parser& parser,
                                          std::string_view service, std::string_view method) {
  const flatbuffers::ServiceDef* found = FindService(parser, service);
  if (found == nullptr) return std::nullopt;
  for (const flatbuffers::RPCCall* call : found->calls.vec) {
    if (call->name != method) continue;
    std::string text = FullName(*found) + "." + MethodLine(*call) + "\n";
    const flatbuffers::StructDef* request = call->request;
    const flatbuffers::StructDef* reply =
        call->response != call->request ? call->response : nullptr;  // the same type once
    for (const flatbuffers::StructDef* type : {request, reply}) {
      if (type != nullptr) text += "\n" + DescribeType(parser, FullName(*type)).value_or("");
    }
    return text;
  }
  return std::nullopt;
}

std::optional<std::string> DescribeType(const flatbuffers::Parser& parser, std::string_view type) {
  for (const flatbuffers::StructDef* table : parser.structs_.vec) {
    if (FullName(*table) != type) continue;
    std::string text = std::string(table->fixed ? "struct " : "table ") + FullName(*table) + " {\n";
    for (const flatbuffers::FieldDef* field : table->fields.vec) {
      // A union's hidden type field (`<name>_type`) is not written in schemas.
      if (field->value.type.base_type == flatbuffers::BASE_TYPE_UTYPE) continue;
      text += "  " + field->name + ":" + TypeText(field->value.type);
      const bool scalar = flatbuffers::IsScalar(field->value.type.base_type);
      if (!table->fixed && scalar && field->value.constant != "0") {
        text += " = " + field->value.constant;
      }
      std::string attributes = "id: " + std::to_string(field->value.offset / 2 - 2);
      if (table->fixed) attributes.clear();
      if (field->IsRequired()) attributes += ", required";
      if (field->deprecated) attributes += ", deprecated";
      text += attributes.empty() ? ";\n" : " (" + attributes + ");\n";
    }
    return text + "}\n";
  }
  for (const flatbuffers::EnumDef* enumeration : parser.enums_.vec) {
    if (FullName(*enumeration) != type) continue;
    std::string text = enumeration->is_union
                           ? "union " + FullName(*enumeration) + " {\n"
                           : "enum " + FullName(*enumeration) + " : " +
                                 TypeText(enumeration->underlying_type) + " {\n";
    for (const flatbuffers::EnumVal* value : enumeration->Vals()) {
      if (enumeration->is_union) {
        if (value->union_type.base_type == flatbuffers::BASE_TYPE_NONE) continue;
        text += "  " + TypeText(value->union_type) + ",\n";
      } else {
        text += "  " + value->name + " = " + enumeration->ToString(*value) + ",\n";
      }
    }
    return text + "}\n";
  }
  return std::nullopt;
}

}  // namespace ferry_cli
