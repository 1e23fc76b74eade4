#include "json_codec.h"

#include <flatbuffers/reflection.h>

namespace ferry_cli {

ferry::Status JsonToMessage(ServiceSchema& schema, const std::string& type, std::string_view json,
                            std::string_view where, ferry::internal::OutgoingMessage& out) {
  flatbuffers::Parser& parser = schema.parser;
  if (!parser.SetRootType(type.c_str())) {
    return ferry::Status::NotFound("the server's schema has no table " + type);
  }
  const std::string text(json);  // ParseJson wants a terminated string
  if (!parser.ParseJson(text.c_str())) {
    // flatbuffers says "<line>: <column>: error: <what>"; the file part is empty.
    std::string why = parser.error_;
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return ferry::Status::InvalidArgument(std::string(where) + ": not a " + type + ": " + why);
  }
  out.fbb().PushFlatBuffer(parser.builder_.GetBufferPointer(), parser.builder_.GetSize());
  out.MarkFinished();
  return ferry::Status::Ok();
}

ferry::Result<std::string> MessageToJson(ServiceSchema& schema, const std::string& type,
                                         const uint8_t* data, size_t size, bool pretty) {
  const reflection::Schema* binary = reflection::GetSchema(schema.binary.data());
  const reflection::Object* root =
      binary->objects() != nullptr ? binary->objects()->LookupByKey(type.c_str()) : nullptr;
  if (root == nullptr) return ferry::Status::NotFound("the server's schema has no table " + type);
  if (data == nullptr || !flatbuffers::Verify(*binary, *root, data, size)) {
    return ferry::Status::DataLoss("the server's " + type + " does not verify against its schema");
  }
  flatbuffers::Parser& parser = schema.parser;
  if (!parser.SetRootType(type.c_str())) {
    return ferry::Status::NotFound("the server's schema has no table " + type);
  }
  parser.opts.strict_json = true;
  parser.opts.output_default_scalars_in_json = true;
  parser.opts.indent_step = pretty ? 2 : -1;
  std::string json;
  if (!flatbuffers::GenerateText(parser, data, &json)) {
    return ferry::Status::Internal("flatbuffers could not print the " + type + " as JSON");
  }
  while (!json.empty() && json.back() == '\n') json.pop_back();
  return json;
}

}  // namespace ferry_cli
