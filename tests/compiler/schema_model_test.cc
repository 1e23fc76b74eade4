// The model stage: what ferryc learns from a schema, and where it finds services and methods.
#include "schema_model.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace ferryc {
namespace {

TEST(FerrycSchemaModel, ScanSkipsCommentsAndStringsAndFindsEveryMethod) {
  ScannedFile scanned = ScanLocations(
      "// rpc_service Fake { Nope(A):B; }\n"
      "namespace x.y;\n"
      "/* rpc_service Also { Nope(A):B; } */\n"
      "rpc_service Real (doc: \"rpc_service Q {\") {\n"
      "  First(A):B (streaming: \"server\");\n"
      "  Second(A):B;\n"
      "}\n",
      "f.idl");

  ASSERT_EQ(scanned.services.size(), 1u);
  EXPECT_EQ(scanned.services[0].name, "Real");
  EXPECT_EQ(scanned.services[0].location.line, 4);
  EXPECT_EQ(scanned.services[0].location.col, 13);
  ASSERT_EQ(scanned.services[0].methods.size(), 2u);
  EXPECT_EQ(scanned.services[0].methods[1].first, "Second");
  EXPECT_EQ(scanned.services[0].methods[1].second.line, 6);
  EXPECT_EQ(scanned.services[0].methods[1].second.col, 3);
  ASSERT_EQ(scanned.namespaces.size(), 1u);
  EXPECT_EQ(scanned.namespaces[0].components, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(scanned.namespaces[0].locations[1].col, 13);
}

TEST(FerrycSchemaModel, ScanFindsTypeDeclarationsWithTheirNamespace) {
  ScannedFile scanned = ScanLocations(
      "table A { struct:int; }\n"
      "namespace x.y;\n"
      "enum E : byte { table }\n"
      "  union U { A }\n",
      "f.idl");

  ASSERT_EQ(scanned.types.size(), 3u);
  EXPECT_EQ(scanned.types[0].name, "A");
  EXPECT_TRUE(scanned.types[0].ns.empty());
  EXPECT_EQ(scanned.types[1].name, "E");
  EXPECT_EQ(scanned.types[1].ns, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(scanned.types[2].name, "U");
  EXPECT_EQ(scanned.types[2].location.line, 4);
  EXPECT_EQ(scanned.types[2].location.col, 9);
}

TEST(FerrycSchemaModel, ModelHasKindsIdsAndFieldArguments) {
  testing::ScratchDir dir;
  const std::string input = dir.Write("m.idl",
                                      "namespace m;\n"
                                      "table Req { a:int; s:string; old:int (deprecated); }\n"
                                      "table Vec { v:[int]; }\n"
                                      "table StdField { std:int; }\n"
                                      "rpc_service S {\n"
                                      "  Get(Req):Req;\n"
                                      "  Fire(Req):Req (oneway);\n"
                                      "  Many(Vec):Vec (streaming: \"bidi\");\n"
                                      "  Std(StdField):StdField (deadline_ms: 20);\n"
                                      "}\n");

  LoadResult loaded = LoadSchema(input, {});

  ASSERT_TRUE(loaded.schema.has_value());
  ASSERT_EQ(loaded.schema->services.size(), 1u);
  const Service& service = loaded.schema->services[0];
  EXPECT_EQ(service.FullName(), "m.S");
  ASSERT_EQ(service.methods.size(), 4u);
  EXPECT_EQ(service.methods[0].kind, MethodKind::kUnary);
  EXPECT_EQ(service.methods[1].kind, MethodKind::kOneway);
  EXPECT_EQ(service.methods[2].kind, MethodKind::kBidiStreaming);
  EXPECT_EQ(service.methods[3].deadline_ms, "20");
  EXPECT_EQ(service.methods[0].location.line, 6);
  EXPECT_TRUE(service.methods[0].request.has_field_args);
  ASSERT_EQ(service.methods[0].request.args.size(), 2u);  // the deprecated field is left out
  EXPECT_EQ(service.methods[0].request.args[1].kind, ArgField::Kind::kString);
  EXPECT_FALSE(service.methods[2].request.has_field_args);  // a vector
  // Generated code writes ::std::, so a field named std is an ordinary parameter.
  EXPECT_TRUE(service.methods[3].request.has_field_args);
  EXPECT_EQ(loaded.schema->dependencies, std::vector<std::string>{input});
}

}  // namespace
}  // namespace ferryc
