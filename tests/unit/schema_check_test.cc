// The schema check without processes: layouts read back, compared, and judged against a
// server's methods.
#include "call/schema_check.h"

#include <gtest/gtest.h>

#include <string>

#include "call/schema_layout.h"

namespace ferry::internal {
namespace {

constexpr std::string_view kItem =
    "ferry-layout 1\n"
    "request s.Query\n"
    "reply s.Item\n"
    "table s.Query\n"
    "field 0 key string\n"
    "field 1 limit int\n"
    "table s.Item\n"
    "field 0 id ulong\n"
    "field 1 tags [string]\n"
    "field 2 at struct:s.Point\n"
    "struct s.Point 8\n"
    "field 0 x int\n"
    "field 4 y int\n";

MessageLayout Parsed(std::string_view text) {
  Result<MessageLayout> layout = ParseLayout(text);
  EXPECT_TRUE(layout.ok()) << layout.status();
  return layout.ok() ? *layout : MessageLayout{};
}

std::string Replace(std::string text, std::string_view from, std::string_view to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// What a client built from `client_text` gets from a server built from `server_text`, for the
// reply (the server writes it) and the request (the client writes it).
std::string ReplyDifference(std::string_view server_text, std::string_view client_text) {
  const MessageLayout server = Parsed(server_text), client = Parsed(client_text);
  return Incompatibility(server, server.reply, "server", client, client.reply, "client");
}
std::string RequestDifference(std::string_view server_text, std::string_view client_text) {
  const MessageLayout server = Parsed(server_text), client = Parsed(client_text);
  return Incompatibility(client, client.request, "client", server, server.request, "server");
}

TEST(SchemaLayout, ReadsEveryKindOfLine) {
  const MessageLayout layout = Parsed(kItem);
  EXPECT_EQ(layout.request, "s.Query");
  EXPECT_EQ(layout.reply, "s.Item");
  ASSERT_EQ(layout.types.size(), 3U);
  const LayoutType& point = layout.types.at("s.Point");
  EXPECT_EQ(point.kind, LayoutType::Kind::kStruct);
  EXPECT_EQ(point.bytes, 8U);
  EXPECT_EQ(point.members[1].place, 4U);
}

TEST(SchemaLayout, TextThatIsNotALayoutIsInvalidArgumentNamingTheLine) {
  for (const std::string_view bad :
       {std::string_view("garbage"),
        std::string_view("ferry-layout 1\nrequest a\nreply b\n"
                         "field 0 x int\n"),
        std::string_view("ferry-layout 1\nrequest a\nreply b\ntable a\nfield x y int\n"),
        std::string_view("ferry-layout 1\nrequest a\nreply b\ntable a\nfield 0 y int odd\n"),
        std::string_view("ferry-layout 1\nrequest a\n")}) {
    Result<MessageLayout> layout = ParseLayout(bad);
    EXPECT_EQ(layout.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(ParseLayout("ferry-layout 1\nrequest a\nreply b\ntable a\nfield x y int\n")
                .status()
                .message()
                .find("line 5"),
            std::string::npos);
}

TEST(SchemaLayout, EqualLayoutsAndCompatibleEvolutionAgree) {
  EXPECT_EQ(ReplyDifference(kItem, kItem), "");
  EXPECT_EQ(RequestDifference(kItem, kItem), "");
  // The server appended a reply field the client does not know; the client appended a
  // request field the server does not know; a field deprecated on one side.
  const std::string appended = Replace(std::string(kItem), "field 2 at struct:s.Point\n",
                                       "field 2 at struct:s.Point\nfield 3 note string\n");
  EXPECT_EQ(ReplyDifference(appended, kItem), "");
  EXPECT_EQ(RequestDifference(kItem, Replace(std::string(kItem), "field 1 limit int\n",
                                             "field 1 limit int\nfield 2 extra long\n")),
            "");
  EXPECT_EQ(ReplyDifference(kItem, Replace(std::string(kItem), "field 0 id ulong\n",
                                           "field 0 id ulong deprecated\n")),
            "");
}

TEST(SchemaLayout, AChangedFieldTypeIsNamedWithBothTypes) {
  const std::string client = Replace(std::string(kItem), "field 0 id ulong", "field 0 id string");
  EXPECT_EQ(ReplyDifference(kItem, client),
            "s.Item.id (field 0) is ulong for the server but string for the client");
  const std::string key_long =
      Replace(std::string(kItem), "field 0 key string", "field 0 key long");
  EXPECT_EQ(RequestDifference(kItem, key_long),
            "s.Query.key (field 0) is long for the client but string for the server");
}

TEST(SchemaLayout, ARequiredFieldTheWriterDoesNotWriteIsNamed) {
  const std::string server = Replace(std::string(kItem), "field 1 limit int\n",
                                     "field 1 limit int\nfield 2 owner string required\n");
  EXPECT_EQ(RequestDifference(server, kItem),
            "s.Query.owner (field 2) is required by the server but the client's s.Query does "
            "not write it");
}

TEST(SchemaLayout, NestedStructsVectorsAndUnionsAreComparedToo) {
  const std::string wider = Replace(std::string(kItem), "field 4 y int", "field 4 y long");
  EXPECT_NE(ReplyDifference(kItem, wider).find("s.Point"), std::string::npos);
  const std::string ints =
      Replace(std::string(kItem), "field 1 tags [string]", "field 1 tags [int]");
  EXPECT_EQ(ReplyDifference(kItem, ints),
            "s.Item.tags (field 1) (its elements) is string for the server but int for the client");
  const std::string with_union =
      "ferry-layout 1\nrequest s.Q\nreply s.R\ntable s.Q\ntable s.R\nfield 0 v_type utype\n"
      "field 1 v union:s.V\nunion s.V\nmember 1 table:s.A\ntable s.A\nfield 0 n int\n";
  EXPECT_EQ(ReplyDifference(with_union, with_union), "");
  EXPECT_NE(ReplyDifference(with_union, Replace(with_union, "field 0 n int", "field 0 n double"))
                .find("s.A.n (field 0) is int for the server but double for the client"),
            std::string::npos);
}

TEST(SchemaLayout, RecursiveTypesEndTheComparison) {
  const std::string tree =
      "ferry-layout 1\nrequest s.Node\nreply s.Node\ntable s.Node\nfield 0 kids [table:s.Node]\n";
  EXPECT_EQ(ReplyDifference(tree, tree), "");
}

// Plain heap memory for a message built outside any transport.
class HeapAllocator final : public MessageAllocator {
 public:
  uint8_t* allocate(size_t size) override { return heap_.allocate(size); }
  void deallocate(uint8_t* p, size_t size) override { heap_.deallocate(p, size); }
  Status Usable() const override { return Status::Ok(); }

 private:
  flatbuffers::DefaultAllocator heap_;
};

// A server's methods, as a binding would list them.
class JudgeTest : public ::testing::Test {
 protected:
  JudgeTest() {
    method_ = {0x1234, "s.Store.Get", kItem, MethodKind::kUnary, nullptr, nullptr, nullptr};
    methods_.emplace(method_.id, &method_);
  }
  Status Judge(uint32_t id, std::string_view name, MethodKind kind, std::string_view layout) {
    OutgoingMessage message(std::make_unique<HeapAllocator>(), 0);
    BuildSchemaCheck(MethodSignature{id, name, layout}, kind, message);
    flatbuffers::FlatBufferBuilder& fbb = message.fbb();
    return JudgeSchemaCheck(methods_, fbb.GetBufferPointer(), fbb.GetSize());
  }
  ServiceBinding::Method method_;
  MethodTable methods_;
};

TEST_F(JudgeTest, TheSameMethodAndLayoutPass) {
  EXPECT_TRUE(Judge(0x1234, "s.Store.Get", MethodKind::kUnary, kItem).ok());
}

TEST_F(JudgeTest, AMissingMethodIsUnimplementedNamingItAndWhatTheServerServes) {
  const Status verdict = Judge(0x9999, "s.Other.Put", MethodKind::kUnary, kItem);
  EXPECT_EQ(verdict.code(), StatusCode::kUnimplemented);
  EXPECT_EQ(verdict.message(), "this server has no method s.Other.Put (it serves s.Store)");
}

TEST_F(JudgeTest, AnotherKindOrASwappedReplyIsFailedPreconditionNamingTheMethod) {
  const Status kind = Judge(0x1234, "s.Store.Get", MethodKind::kServerStreaming, kItem);
  EXPECT_EQ(kind.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(kind.message(),
            "s.Store.Get is a unary method on the server but server-streaming "
            "for the client");
  const Status swapped = Judge(0x1234, "s.Store.Get", MethodKind::kUnary,
                               Replace(std::string(kItem), "reply s.Item", "reply s.Query"));
  EXPECT_EQ(swapped.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(swapped.message(),
            "s.Store.Get: the server replies s.Item but the client reads "
            "s.Query");
}

TEST_F(JudgeTest, AChangedFieldIsFailedPreconditionNamingMethodAndTypes) {
  const Status verdict =
      Judge(0x1234, "s.Store.Get", MethodKind::kUnary,
            Replace(std::string(kItem), "field 0 id ulong", "field 0 id string"));
  EXPECT_EQ(verdict.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(verdict.message(),
            "s.Store.Get: the server's reply s.Item and the client's s.Item differ: s.Item.id "
            "(field 0) is ulong for the server but string for the client");
}

TEST_F(JudgeTest, BytesThatAreNotACheckOrALayoutAreInvalidArgument) {
  const uint8_t garbage[] = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(JudgeSchemaCheck(methods_, garbage, sizeof(garbage)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Judge(0x1234, "s.Store.Get", MethodKind::kUnary, "not a layout").code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ferry::internal
