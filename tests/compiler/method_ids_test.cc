// Method ids and fingerprints are part of the wire contract: these values must never change.
#include "method_ids.h"

#include <gtest/gtest.h>

#include "schema_model.h"
#include "validate.h"

namespace ferryc {
namespace {

TEST(MethodIds, Fnv1aMatchesTheReferenceVectors) {
  EXPECT_EQ(Fnv1a32(""), 0x811c9dc5u);
  EXPECT_EQ(Fnv1a32("a"), 0xe40c292cu);
  EXPECT_EQ(Fnv1a32("foobar"), 0xbf9cf968u);
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ull);
}

TEST(MethodIds, MethodIdHashesTheDottedFullName) {
  EXPECT_EQ(MethodId("demo.Calculator", "Add"), 0x26bfadd9u);
  EXPECT_EQ(MethodId("demo.Calculator", "Add"), Fnv1a32("demo.Calculator.Add"));
  EXPECT_EQ(MethodId("Plain", "Echo"), Fnv1a32("Plain.Echo"));
}

std::vector<FingerprintedMethod> CalculatorMethods() {
  return {{"Add", "unary", "demo.AddRequest", "demo.AddReply"},
          {"Countdown", "server_streaming", "demo.AddRequest", "demo.AddReply"},
          {"Upload", "client_streaming", "demo.Frame", "demo.Empty"},
          {"Chat", "bidi_streaming", "demo.AddRequest", "demo.AddReply"},
          {"Log", "oneway", "demo.AddRequest", "demo.Empty"}};
}

TEST(MethodIds, CalculatorFingerprintIsStable) {
  EXPECT_EQ(SchemaFingerprint("demo.Calculator", CalculatorMethods()), 0x1a91c30bd5922c84ull);
}

TEST(MethodIds, FingerprintChangesWithEveryCoveredProperty) {
  const uint64_t base = SchemaFingerprint("demo.Calculator", CalculatorMethods());
  auto changed = [&](auto edit) {
    std::vector<FingerprintedMethod> methods = CalculatorMethods();
    std::string service = "demo.Calculator";
    edit(service, methods);
    return SchemaFingerprint(service, methods);
  };

  EXPECT_NE(base, changed([](std::string& s, auto&) { s = "demo.Calc"; }));
  EXPECT_NE(base, changed([](std::string&, auto& m) { m[0].name = "Sum"; }));
  EXPECT_NE(base, changed([](std::string&, auto& m) { m[0].kind = "oneway"; }));
  EXPECT_NE(base, changed([](std::string&, auto& m) { m[0].request_full_name = "demo.Frame"; }));
  EXPECT_NE(base, changed([](std::string&, auto& m) { m[0].reply_full_name = "demo.Empty"; }));
  EXPECT_NE(base, changed([](std::string&, auto& m) { m.pop_back(); }));
}

// Validation reads ids from the model, so a collision can be injected without a real one.
TEST(MethodIds, ValidateRejectsInjectedIdCollisionsAcrossServices) {
  Schema schema;
  schema.file = "x.idl";
  for (const char* name : {"A", "B"}) {
    Service service;
    service.name = name;
    service.ns = {"n"};
    service.location = {"x.idl", 1, 13};
    Method method;
    method.name = "Get";
    method.location = {"x.idl", name[0] == 'A' ? 2 : 5, 3};
    method.request.type.ns = {"n"};
    method.request.type.name = "Req";
    method.request.type.what = "table";
    method.reply.type = method.request.type;
    method.reply.type.name = "Rep";
    method.id = 0x12345678u;
    service.methods.push_back(method);
    schema.services.push_back(service);
  }

  std::vector<Diagnostic> diagnostics = Validate(schema);

  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(FormatDiagnostic(diagnostics[0]),
            "x.idl:5:3: error: method id 0x12345678 of 'n.B.Get' collides with 'n.A.Get' "
            "(fnv1a32 of the full names); rename one of the methods");
}

}  // namespace
}  // namespace ferryc
