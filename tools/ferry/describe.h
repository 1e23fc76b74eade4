// Schema text for `ferry describe`: a service, a method or a type, written back in the schema
// language from what the server's binary schema says (comments and includes are not in it).
#pragma once

#include <flatbuffers/idl.h>

#include <optional>
#include <string>
#include <string_view>

namespace ferry_cli {

// "package.Name" of a type or service the parser knows.
std::string FullName(const flatbuffers::Definition& definition);

// The rpc_service declaration of `service` ("package.Service"); nullopt when the schema has
// no such service.
std::optional<std::string> DescribeService(const flatbuffers::Parser& parser,
                                           std::string_view service);
// One method of it, then its request and reply types; nullopt when there is no such method.
std::optional<std::string> DescribeMethod(const flatbuffers::Parser& parser,
                                          std::string_view service, std::string_view method);
// A table, struct, enum or union ("package.Type"); nullopt when the schema has none.
std::optional<std::string> DescribeType(const flatbuffers::Parser& parser, std::string_view type);

}  // namespace ferry_cli
