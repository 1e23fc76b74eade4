// JSON in and out of a service's messages, through FlatBuffers' own JSON parser and printer
// over the schema the server handed out.
#pragma once

#include <string>
#include <string_view>

#include "ferry/message.h"
#include "ferry/result.h"
#include "reflected_server.h"

namespace ferry_cli {

// Builds a `type` ("package.Type") message from `json` into `out` (from the channel, so that
// it is built where the transport can send it). INVALID_ARGUMENT naming `where` and the line
// and column of the first problem.
ferry::Status JsonToMessage(ServiceSchema& schema, const std::string& type, std::string_view json,
                            std::string_view where, ferry::internal::OutgoingMessage& out);

// The JSON of a `type` message the server sent (verified against the schema first:
// DATA_LOSS when it does not verify). `pretty`: indented over lines, else one line.
ferry::Result<std::string> MessageToJson(ServiceSchema& schema, const std::string& type,
                                         const uint8_t* data, size_t size, bool pretty);

}  // namespace ferry_cli
