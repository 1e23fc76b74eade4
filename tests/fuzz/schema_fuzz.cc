// libFuzzer target: what a client may send in a schema check. The bytes go to the server's
// judge as a SchemaCheck, and as layout text to the parser and (when it reads) to the
// comparison with a server's layout, both ways. Nothing may crash, hang or leak; every
// outcome is a Status or a sentence.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "call/schema_check.h"
#include "call/schema_layout.h"

namespace {

constexpr std::string_view kServerLayout =
    "ferry-layout 1\n"
    "request s.Query\n"
    "reply s.Item\n"
    "table s.Query\n"
    "field 0 key string\n"
    "field 1 owner string required\n"
    "table s.Item\n"
    "field 0 id ulong\n"
    "field 1 kids [table:s.Item]\n"
    "field 2 at struct:s.Point\n"
    "field 3 v_type utype\n"
    "field 4 v union:s.V\n"
    "struct s.Point 8\n"
    "field 0 x int\n"
    "field 4 y [ubyte:4]\n"
    "union s.V\n"
    "member 1 table:s.Query\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry::internal;
  ferry::ServiceBinding::Method method{
      0x1234, "s.Store.Get", kServerLayout, ferry::MethodKind::kUnary, nullptr, nullptr, nullptr};
  MethodTable methods{{method.id, &method}};
  (void)JudgeSchemaCheck(methods, data, size);

  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ferry::Result<MessageLayout> client = ParseLayout(text);
  ferry::Result<MessageLayout> server = ParseLayout(kServerLayout);
  if (client.ok() && server.ok()) {
    (void)Incompatibility(*client, client->request, "client", *server, server->request, "server");
    (void)Incompatibility(*server, server->reply, "server", *client, client->reply, "client");
    (void)Incompatibility(*client, client->reply, "client", *client, client->request, "client");
  }
  return 0;
}
