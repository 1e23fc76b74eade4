// What the `ferry` tool knows of a server: its services and methods (ferry.Reflection's
// ListServices) and, fetched when first needed, each service's schema, read back into a
// flatbuffers::Parser (for JSON in and out, and for describing types).
#pragma once

#include <flatbuffers/idl.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/channel.h"
#include "ferry/options.h"
#include "ferry/result.h"
#include "ferry/service.h"

namespace ferry_cli {

struct MethodEntry {
  std::string name;  // "package.Service.Method"
  std::string service;
  uint32_t id = 0;
  ferry::MethodKind kind = ferry::MethodKind::kUnary;
  std::string request_type;  // "package.Type"
  std::string reply_type;
};

struct ServiceEntry {
  std::string name;
  bool has_schema = false;
  std::vector<MethodEntry> methods;
};

// A service's schema, as the server gave it.
struct ServiceSchema {
  std::vector<uint8_t> binary;      // FlatBuffers' reflection.fbs form, 8-byte aligned copy
  flatbuffers::Parser parser;       // read back from `binary`
};

// Reads a binary schema a server sent: the FlatBuffers verifier, then every type reference
// checked against the schema's own tables (the reflection verifier and printer index them
// unchecked), then flatbuffers::Parser::Deserialize. DATA_LOSS naming `service` otherwise.
ferry::Result<std::unique_ptr<ServiceSchema>> ReadSchema(const uint8_t* data, size_t size,
                                                         const std::string& service);

class ReflectedServer {
 public:
  // Lists the services through ferry.Reflection. UNIMPLEMENTED (with a word on
  // ServerOptions::reflection) when the server does not offer it.
  static ferry::Result<ReflectedServer> Load(ferry::Channel channel,
                                             const ferry::CallOptions& options);

  const std::vector<ServiceEntry>& services() const { return services_; }
  const ferry::Channel& channel() const { return channel_; }
  // Null when there is no such method.
  const MethodEntry* FindMethod(std::string_view name) const;
  const ServiceEntry* FindService(std::string_view name) const;
  // The schema of `service`, fetched once (NOT_FOUND when the server has none for it).
  ferry::Result<ServiceSchema*> SchemaOf(const std::string& service);

 private:
  ReflectedServer(ferry::Channel channel, ferry::CallOptions options)
      : channel_(std::move(channel)), options_(options) {}

  ferry::Channel channel_;
  ferry::CallOptions options_;
  std::vector<ServiceEntry> services_;
  std::map<std::string, std::unique_ptr<ServiceSchema>> schemas_;
};

}  // namespace ferry_cli
