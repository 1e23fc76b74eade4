// The error table: each bad schema must fail with exactly one `file:line:col: error: message`
// line, exit status 1, and no file at all in the output directory.
#include <gtest/gtest.h>

#include <sstream>

#include "compiler.h"
#include "method_ids.h"
#include "test_util.h"

namespace ferryc {
namespace {

struct ErrorCase {
  std::string name;
  std::string schema;    // written to {dir}/bad.idl
  std::string expected;  // stderr; {dir} stands for the scratch directory
  std::vector<std::pair<std::string, std::string>> extra_files = {};
};

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// Runs ferryc on the case and checks the exit status, the exact message and the empty out dir.
void ExpectRejected(const ErrorCase& error) {
  SCOPED_TRACE(error.name);
  testing::ScratchDir dir;
  const std::string input = dir.Write("bad.idl", error.schema);
  for (const auto& [name, text] : error.extra_files) dir.Write(name, text);
  const std::string out = (dir.path() / "out").string();
  std::ostringstream err;

  int status = RunCommandLine(
      {"-o", out, "-I", (dir.path() / "inc").string(), "--depfile", out + "/bad.d", input}, err);

  EXPECT_EQ(status, 1);
  EXPECT_EQ(err.str(), Replace(error.expected, "{dir}", dir.path().string()) + "\n");
  EXPECT_EQ(testing::ListDir(out), std::vector<std::string>{});
}

const std::string kTables = "namespace t;\ntable Req { a:int; }\ntable Rep { b:int; }\n";

TEST(FerrycErrors, UnknownStreamingValueIsRejectedWithItsLocation) {
  ExpectRejected(
      {"streaming", kTables + "rpc_service S {\n  Get(Req):Rep (streaming: \"sideways\");\n}\n",
       "{dir}/bad.idl:5:3: error: unknown streaming value \"sideways\" for method 'Get'; "
       "expected \"none\", \"server\", \"client\" or \"bidi\""});
}

TEST(FerrycErrors, OnewayCombinedWithStreamingIsRejected) {
  ExpectRejected(
      {"oneway+streaming",
       kTables +
           "rpc_service S {\n  Get(Req):Rep;\n  Log(Req):Rep (oneway, streaming: \"server\");\n}\n",
       "{dir}/bad.idl:6:3: error: method 'Log' is oneway and cannot also be streaming "
       "\"server\""});
}

TEST(FerrycErrors, MethodNamedLikeAGeneratedClassIsRejected) {
  ExpectRejected({"Client", kTables + "rpc_service S { Client(Req):Rep; }\n",
                  "{dir}/bad.idl:4:17: error: method name 'Client' clashes with a name ferryc "
                  "generates in service 'S'"});
  ExpectRejected({"Method", kTables + "rpc_service S { Method(Req):Rep; }\n",
                  "{dir}/bad.idl:4:17: error: method name 'Method' clashes with a name ferryc "
                  "generates in service 'S'"});
  ExpectRejected({"channel", kTables + "rpc_service S { channel(Req):Rep; }\n",
                  "{dir}/bad.idl:4:17: error: method name 'channel' clashes with a name ferryc "
                  "generates in service 'S'"});
}

TEST(FerrycErrors, MethodNamedLikeAnotherMethodsRequestBuilderIsRejected) {
  ExpectRejected({"NewXRequest",
                  kTables + "rpc_service S {\n  Get(Req):Rep;\n  NewGetRequest(Req):Rep;\n}\n",
                  "{dir}/bad.idl:6:3: error: method name 'NewGetRequest' clashes with the request "
                  "builder ferryc generates for method 'Get'"});
}

TEST(FerrycErrors, MethodNamedLikeAnotherUnaryMethodsAsyncCallIsRejected) {
  ExpectRejected({"GetAsync",
                  kTables + "rpc_service S {\n  GetAsync(Req):Rep;\n  Get(Req):Rep;\n}\n",
                  "{dir}/bad.idl:5:3: error: method name 'GetAsync' clashes with the asynchronous "
                  "call ferryc generates for method 'Get'"});
}

TEST(FerrycErrors, MethodsThatCollideOnceKeywordsAreEscapedAreRejected) {
  ExpectRejected({"class/class_",
                  kTables + "rpc_service S {\n  class_(Req):Rep;\n  class(Req):Rep;\n}\n",
                  "{dir}/bad.idl:6:3: error: method name 'class' and method 'class_' are both "
                  "'class_' in C++"});
}

TEST(FerrycErrors, MethodsWhoseComposedNamesCollideAreRejected) {
  ExpectRejected({"get_value/GetValue",
                  kTables + "rpc_service S {\n  GetValue(Req):Rep;\n  get_value(Req):Rep;\n}\n",
                  "{dir}/bad.idl:6:3: error: method name 'get_value' and method 'GetValue' both "
                  "make Method::kGetValue and NewGetValueRequest"});
}

TEST(FerrycErrors, DuplicateMethodNamesAreReportedByTheParser) {
  ExpectRejected({"duplicate", kTables + "rpc_service S {\n  Get(Req):Rep;\n  Get(Req):Rep;\n}\n",
                  "{dir}/bad.idl:6:15: error: rpc already exists: Get"});
}

TEST(FerrycErrors, SyntaxErrorsAreNormalisedToFileLineColumn) {
  ExpectRejected({"syntax", "namespace t;\ntable Req { a:int }\n",
                  "{dir}/bad.idl:2:19: error: expecting: ; instead got: }"});
}

TEST(FerrycErrors, UndefinedTypeIsReportedWhereItIsUsed) {
  ExpectRejected({"undefined", "namespace t;\ntable Req { a:Missing; }\n",
                  "{dir}/bad.idl:2:15: error: type referenced but not defined (check "
                  "namespace): Missing"});
}

TEST(FerrycErrors, UndefinedTypeIsLocatedAsAWholeNameInTypePosition) {
  ExpectRejected({"field named like the type", "namespace t;\ntable Req { thing:int; a:thing; }\n",
                  "{dir}/bad.idl:2:26: error: type referenced but not defined (check "
                  "namespace): thing"});
  ExpectRejected({"substring", "namespace t;\ntable Req { something:int; a:[thing]; }\n",
                  "{dir}/bad.idl:2:31: error: type referenced but not defined (check "
                  "namespace): thing"});
}

TEST(FerrycErrors, UndefinedQualifiedRequestTypeIsReportedWhereItIsUsed) {
  ExpectRejected(
      {"undefined request",
       "namespace t;\ntable Rep { a:int; }\nrpc_service S {\n  Get(other.Missing):Rep;\n}\n",
       "{dir}/bad.idl:4:7: error: type referenced but not defined (check namespace): "
       "other.Missing"});
}

TEST(FerrycErrors, MissingIncludeIsRejected) {
  ExpectRejected({"include", "include \"nowhere.idl\";\nnamespace t;\n",
                  "{dir}/bad.idl:1:22: error: unable to load include file: nowhere.idl"});
}

TEST(FerrycErrors, ErrorInsideAnIncludedFileNamesThatFile) {
  ExpectRejected({"included",
                  "include \"lib.idl\";\nnamespace t;\n",
                  "{dir}/inc/lib.idl:2:17: error: expecting: ; instead got: }",
                  {{"inc/lib.idl", "namespace lib;\ntable L { a:int }\n"}}});
}

TEST(FerrycErrors, AnIncludedFileWithTheSameStemIsRejected) {
  ExpectRejected({"bad.fbs",
                  "include \"bad.fbs\";\nnamespace t;\n",
                  "{dir}/bad.idl: error: includes {dir}/inc/bad.fbs, whose flatc header would "
                  "also be bad_generated.h; rename one of them",
                  {{"inc/bad.fbs", "namespace lib;\ntable L { a:int; }\n"}}});
}

TEST(FerrycErrors, UndefinedQualifiedTypeIsLocatedAsAWhole) {
  ExpectRejected({"qualified", "namespace t.u;\ntable Req { a:int; b:u.Missing; }\n",
                  "{dir}/bad.idl:2:22: error: type referenced but not defined (check "
                  "namespace): u.Missing"});
}

TEST(FerrycErrors, StructRequestTypeIsRejected) {
  ExpectRejected({"struct",
                  "namespace t;\nstruct P { x:int; }\ntable Rep { b:int; }\n"
                  "rpc_service S { Get(P):Rep; }\n",
                  "{dir}/bad.idl:4:27: error: rpc request and response types must be tables"});
}

TEST(FerrycErrors, ServiceNamedLikeATableIsRejected) {
  ExpectRejected(
      {"service=table", kTables + "rpc_service Req { Get(Req):Rep; }\n",
       "{dir}/bad.idl:4:13: error: service 'Req' has the same C++ name as table 't.Req'"});
}

TEST(FerrycErrors, ServiceNamedFerryBindIsRejected) {
  ExpectRejected({"FerryBind", kTables + "rpc_service FerryBind { Get(Req):Rep; }\n",
                  "{dir}/bad.idl:4:13: error: service name 'FerryBind' clashes with a name ferryc "
                  "generates"});
}

TEST(FerrycErrors, KeywordNamespaceComponentIsRejected) {
  ExpectRejected({"namespace", "namespace a.class;\ntable Req { a:int; }\n",
                  "{dir}/bad.idl:1:13: error: namespace component 'class' is a C++ keyword; flatc "
                  "does not escape namespaces, so the generated C++ would not compile"});
}

TEST(FerrycErrors, DeadlineThatIsNotAWholeNumberOfMillisecondsIsRejected) {
  ExpectRejected({"deadline", kTables + "rpc_service S { Get(Req):Rep (deadline_ms: \"soon\"); }\n",
                  "{dir}/bad.idl:4:17: error: deadline_ms of method 'Get' must be a whole number "
                  "of milliseconds from 1 to 2147483647, got \"soon\""});
}

TEST(FerrycErrors, UndeclaredAttributeIsReportedByTheParser) {
  ExpectRejected({"attribute", kTables + "rpc_service S { Get(Req):Rep (fast); }\n",
                  "{dir}/bad.idl:4:34: error: user define attributes must be declared before "
                  "use: fast"});
}

TEST(FerrycErrors, GlobalTypeOrServiceNamedLikeANamespaceGeneratedCodeUsesIsRejected) {
  ExpectRejected({"table ferry", "table Req { a:int; }\ntable ferry { a:int; }\n",
                  "{dir}/bad.idl:2:7: error: table 'ferry' in the global namespace clashes with "
                  "namespace ::ferry used by the generated code"});
  ExpectRejected({"enum std", "enum std : byte { a }\n",
                  "{dir}/bad.idl:1:6: error: enum 'std' in the global namespace clashes with "
                  "namespace ::std used by the generated code"});
  ExpectRejected({"service ferry", "table Req { a:int; }\nrpc_service ferry { Get(Req):Req; }\n",
                  "{dir}/bad.idl:2:13: error: service 'ferry' in the global namespace clashes "
                  "with namespace ::ferry used by the generated code"});
  ExpectRejected({"included",
                  "include \"lib.idl\";\nnamespace t;\n",
                  "{dir}/inc/lib.idl:2:9: error: struct 'std' in the global namespace clashes "
                  "with namespace ::std used by the generated code",
                  {{"inc/lib.idl", "// lib\n struct std { a:int; }\n"}}});
}

TEST(FerrycErrors, AnythingNamedFlatbuffersIsRejected) {
  ExpectRejected({"table", "namespace t;\ntable flatbuffers { a:int; }\n",
                  "{dir}/bad.idl:2:7: error: table named 'flatbuffers' hides namespace "
                  "::flatbuffers from flatc's generated code"});
  ExpectRejected({"namespace", "namespace t.flatbuffers;\ntable T { a:int; }\n",
                  "{dir}/bad.idl:1:13: error: namespace component named 'flatbuffers' hides "
                  "namespace ::flatbuffers from flatc's generated code"});
  ExpectRejected({"service", kTables + "rpc_service flatbuffers { Get(Req):Rep; }\n",
                  "{dir}/bad.idl:4:13: error: service named 'flatbuffers' hides namespace "
                  "::flatbuffers from flatc's generated code"});
}

TEST(FerrycErrors, TheRuntimesNamespaceIsRejected) {
  ExpectRejected({"ferry", "namespace ferry;\ntable Status { a:int; }\n",
                  "{dir}/bad.idl:1:11: error: namespace 'ferry' belongs to the ferry runtime; its "
                  "types would collide with the runtime's"});
  ExpectRejected({"ferry.internal", "namespace ferry.internal.x;\ntable T { a:int; }\n",
                  "{dir}/bad.idl:1:11: error: namespace 'ferry.internal.x' belongs to the ferry "
                  "runtime; its types would collide with the runtime's"});
}

TEST(FerrycErrors, ATypeNamedFerryBindNextToAServiceIsRejected) {
  ExpectRejected({"FerryBind type",
                  "namespace t;\ntable FerryBind { a:int; }\n"
                  "rpc_service S { Get(FerryBind):FerryBind; }\n",
                  "{dir}/bad.idl:2:7: error: table 't.FerryBind' would be hidden by the "
                  "FerryBind function ferryc generates for service 't.S'"});
}

TEST(FerrycErrors, NamesOfServicesInIncludedFilesAreNotReused) {
  const std::pair<std::string, std::string> lib = {
      "inc/lib.idl", "namespace lib;\ntable L { a:int; }\nrpc_service Svc { Get(L):L; }\n"};
  ExpectRejected({"namespace",
                  "include \"lib.idl\";\nnamespace lib.Svc;\ntable T { a:int; }\n",
                  "{dir}/bad.idl:2:15: error: namespace 'lib.Svc' has the same name as service "
                  "'lib.Svc' of {dir}/inc/lib.idl",
                  {lib}});
  ExpectRejected({"table",
                  "include \"lib.idl\";\nnamespace lib;\ntable Svc { a:int; }\n",
                  "{dir}/bad.idl:3:7: error: table 'lib.Svc' has the same C++ name as service "
                  "'lib.Svc' of {dir}/inc/lib.idl",
                  {lib}});
}

TEST(FerrycErrors, ANamespaceInsideStdIsRejected) {
  ExpectRejected({"std", "namespace std.x;\ntable T { a:int; }\n",
                  "{dir}/bad.idl:1:11: error: namespace 'std.x' is inside namespace std, where "
                  "C++ forbids user declarations"});
}

TEST(FerrycErrors, ServiceNamedLikeAClassFlatcGeneratesIsRejected) {
  ExpectRejected({"Builder", kTables + "rpc_service ReqBuilder { Get(Req):Rep; }\n",
                  "{dir}/bad.idl:4:13: error: service 'ReqBuilder' has the same C++ name as the "
                  "class flatc generates for table 't.Req'"});
  ExpectRejected({"Traits",
                  kTables + "union U { Req, Rep }\nrpc_service UTraits { Get(Req):Rep; }\n",
                  "{dir}/bad.idl:5:13: error: service 'UTraits' has the same C++ name as the "
                  "class flatc generates for union 't.U'"});
  ExpectRejected({"included Builder",
                  "include \"lib.idl\";\nnamespace lib;\n"
                  "rpc_service LBuilder { Get(L):L; }\n",
                  "{dir}/bad.idl:3:13: error: service 'LBuilder' has the same C++ name as the "
                  "class flatc generates for table 'lib.L'",
                  {{"inc/lib.idl", "namespace lib;\ntable L { a:int; }\n"}}});
}

TEST(FerrycErrors, MethodNamedLikeAStandardMacroIsRejected) {
  for (const std::string name : {"assert", "errno", "offsetof", "setjmp", "va_start", "va_end",
                                 "va_arg", "va_copy", "NULL", "EOF", "INT32_MAX", "UINT64_C"}) {
    ExpectRejected({name, kTables + "rpc_service S { " + name + "(Req):Rep; }\n",
                    "{dir}/bad.idl:4:17: error: method name '" + name +
                        "' is a standard C/C++ macro; the generated code would not compile"});
  }
}

TEST(FerrycErrors, NamesFlatcsOwnCppCannotCompileAreRejected) {
  ExpectRejected({"keyword enum as field type",
                  "namespace t;\nenum switch : byte { a }\ntable T { s:switch; }\n",
                  "{dir}/bad.idl:2:6: error: enum name 'switch' is a C++ keyword and a field's "
                  "type; flatc does not escape it there, so its generated C++ would not compile"});
  ExpectRejected({"keyword struct in a vector",
                  "namespace t;\nstruct do { x:int; }\ntable T { v:[do]; }\n",
                  "{dir}/bad.idl:2:8: error: struct name 'do' is a C++ keyword and a field's "
                  "type; flatc does not escape it there, so its generated C++ would not compile"});
  ExpectRejected({"C++20 table", "namespace t;\ntable consteval { x:int; }\n",
                  "{dir}/bad.idl:2:7: error: table name 'consteval' is a C++ keyword flatc does "
                  "not escape, so its generated C++ would not compile"});
  ExpectRejected({"C++20 field", "namespace t;\ntable T {\n  x:int;\n  constinit:int;\n}\n",
                  "{dir}/bad.idl:4:3: error: field name 'constinit' is a C++ keyword flatc does "
                  "not escape, so its generated C++ would not compile"});
  ExpectRejected({"C++20 struct field", "namespace t;\nstruct P { char8_t:int; }\n",
                  "{dir}/bad.idl:2:12: error: field name 'char8_t' is a C++ keyword flatc does "
                  "not escape, so its generated C++ would not compile"});
}

TEST(FerrycErrors, OnewayWithAValueThatDoesNotMeanYesIsRejected) {
  ExpectRejected({"oneway: 0", kTables + "rpc_service S { Get(Req):Rep (oneway: 0); }\n",
                  "{dir}/bad.idl:4:17: error: oneway of method 'Get' takes no value (or 1 or "
                  "\"true\"), got \"0\"; leave the attribute out for a call with a reply"});
}

TEST(FerrycErrors, FerryAttributesOutsideMethodsAreRejected) {
  ExpectRejected({"service", kTables + "rpc_service S (deadline_ms: 5) { Get(Req):Rep; }\n",
                  "{dir}/bad.idl:4:13: error: attribute 'deadline_ms' on service 'S' has no "
                  "effect: ferry reads it on rpc methods only"});
  ExpectRejected({"field", "namespace t;\ntable Req {\n  a:int (oneway);\n}\n",
                  "{dir}/bad.idl:3:3: error: attribute 'oneway' on field 'a' has no effect: "
                  "ferry reads it on rpc methods only"});
  ExpectRejected({"table", "namespace t;\ntable Req (oneway) { a:int; }\n",
                  "{dir}/bad.idl:2:7: error: attribute 'oneway' on table 'Req' has no effect: "
                  "ferry reads it on rpc methods only"});
}

// A real fnv1a32 collision in service "t.S", found once by a birthday search over the names
// "M0", "M1", ... (about 750,000 of them, too slow to repeat in every run).
constexpr const char* kCollidingFirst = "M512789";
constexpr const char* kCollidingSecond = "M749192";

TEST(FerrycErrors, MethodIdCollisionIsRejectedAtTheSecondMethod) {
  const std::string first = kCollidingFirst;
  const std::string second = kCollidingSecond;
  ASSERT_EQ(MethodId("t.S", first), MethodId("t.S", second));
  char id[16];
  std::snprintf(id, sizeof(id), "0x%08x", MethodId("t.S", first));

  ExpectRejected(
      {"collision",
       kTables + "rpc_service S {\n  " + first + "(Req):Rep;\n  " + second + "(Req):Rep;\n}\n",
       "{dir}/bad.idl:6:3: error: method id " + std::string(id) + " of 't.S." + second +
           "' collides with 't.S." + first +
           "' (fnv1a32 of the full names); rename one of the methods"});
}

TEST(FerrycErrors, EveryErrorOfAFileIsReportedAndNothingIsWritten) {
  ExpectRejected(
      {"several",
       kTables + "rpc_service S {\n  Client(Req):Rep;\n  Get(Req):Rep (streaming: \"x\");\n}\n",
       "{dir}/bad.idl:5:3: error: method name 'Client' clashes with a name ferryc "
       "generates in service 'S'\n"
       "{dir}/bad.idl:6:3: error: unknown streaming value \"x\" for method 'Get'; "
       "expected \"none\", \"server\", \"client\" or \"bidi\""});
}

TEST(FerrycErrors, AGoodFileIsNotWrittenWhenAnotherInputFails) {
  testing::ScratchDir dir;
  const std::string good = dir.Write("good.idl", kTables + "rpc_service S { Get(Req):Rep; }\n");
  const std::string bad = dir.Write("bad.idl", "namespace t;\ntable Req { a:int }\n");
  const std::string out = (dir.path() / "out").string();
  std::ostringstream err;

  int status = RunCommandLine({"-o", out, good, bad}, err);

  EXPECT_EQ(status, 1);
  EXPECT_EQ(testing::ListDir(out), std::vector<std::string>{});
}

TEST(FerrycErrors, AFileNameThatCannotBeIncludedIsRejected) {
  for (const std::string name : {"we\"ird.idl", "back\\slash.idl"}) {
    SCOPED_TRACE(name);
    testing::ScratchDir dir;
    const std::string input = dir.Write(name, kTables + "rpc_service S { Get(Req):Rep; }\n");
    const std::string out = (dir.path() / "out").string();
    std::ostringstream err;

    int status = RunCommandLine({"-o", out, input}, err);

    EXPECT_EQ(status, 1);
    EXPECT_EQ(err.str(), input +
                             ": error: the file name cannot appear in a C++ #include line (it "
                             "contains '\"', '\\' or a control character); rename it\n");
    EXPECT_EQ(testing::ListDir(out), std::vector<std::string>{});
  }
}

}  // namespace
}  // namespace ferryc

namespace ferryc {
namespace {

TEST(FerrycWarnings, ParserWarningsArePrintedNormalisedAndDoNotFail) {
  testing::ScratchDir dir;
  const std::string input = dir.Write("warn.idl", "namespace t;\ntable T { BadName:int; }\n");
  const std::string out = (dir.path() / "out").string();
  std::ostringstream err;

  int status = RunCommandLine({"-o", out, input}, err);

  EXPECT_EQ(status, 0);
  EXPECT_EQ(err.str(), input +
                           ":2:17: warning: field names should be lowercase snake_case, got: "
                           "BadName\n");
  EXPECT_EQ(testing::ListDir(out),
            (std::vector<std::string>{"warn.ferry.cc", "warn.ferry.h", "warn_generated.h"}));
}

}  // namespace
}  // namespace ferryc
