// The `ferry` tool's reading of a server's binary schema (peer input): ReadSchema, then describing every service and type it names and a
// JSON round trip through every table. None of it may crash, whatever the server sent. (Run
// without leak detection, libFuzzer's and ASan's: ReadSchema leaves a parser that failed to
// read to the process's end, see there.)
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "describe.h"
#include "ferry/channel.h"
#include "json_codec.h"
#include "reflected_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ferry::Result<std::unique_ptr<ferry_cli::ServiceSchema>> read =
      ferry_cli::ReadSchema(data, size, "fuzz");
  if (!read.ok()) return 0;
  ferry_cli::ServiceSchema& schema = **read;
  const flatbuffers::Parser& parser = schema.parser;
  std::vector<std::string> tables;
  for (const flatbuffers::ServiceDef* service : parser.services_.vec) {
    const std::string name = ferry_cli::FullName(*service);
    (void)ferry_cli::DescribeService(parser, name);
    for (const flatbuffers::RPCCall* call : service->calls.vec) {
      (void)ferry_cli::DescribeMethod(parser, name, call->name);
    }
  }
  for (const flatbuffers::StructDef* type : parser.structs_.vec) {
    const std::string name = ferry_cli::FullName(*type);
    (void)ferry_cli::DescribeType(parser, name);
    if (!type->fixed) tables.push_back(name);
  }
  for (const flatbuffers::EnumDef* type : parser.enums_.vec) {
    (void)ferry_cli::DescribeType(parser, ferry_cli::FullName(*type));
  }
  // A message the tool would print: an empty table of each kind, built by the parser itself.
  for (const std::string& table : tables) {
    if (!schema.parser.SetRootType(table.c_str()) || !schema.parser.ParseJson("{}")) continue;
    const std::vector<uint8_t> message(
        schema.parser.builder_.GetBufferPointer(),
        schema.parser.builder_.GetBufferPointer() + schema.parser.builder_.GetSize());
    (void)ferry_cli::MessageToJson(schema, table, message.data(), message.size(), false);
  }
  return 0;
}
