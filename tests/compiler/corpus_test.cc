// Compiles every header generated from the corpus (with -Wall -Wextra -Werror) and checks the
// generated API at compile time: ids, names, nested roles and which overloads exist.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "everything.ferry.h"
#include "hostile.ferry.h"
#include "keywords.ferry.h"
#include "messages_only.ferry.h"
#include "plain.ferry.h"
#include "shapes.ferry.h"
#include "units.ferry.h"

namespace {

using a::b::c::Everything;
using a::b::c::Simple;

// Compile-time checks -----------------------------------------------------------------------

static_assert(Everything::kFullName == "a.b.c.Everything");
static_assert(a::b::c::Second::kFullName == "a.b.c.Second");
static_assert(a::b::d::Third::kFullName == "a.b.d.Third");
static_assert(::Plain::kFullName == "Plain");
static_assert(kw::delete_::kFullName == "kw.delete");
static_assert(geo::shapes::Canvas::kFullName == "geo.shapes.Canvas");

// fnv1a32 of the full names, computed independently.
static_assert(static_cast<uint32_t>(Everything::Method::kGet) == 0x9ba9ac64u);
static_assert(Everything::kSchemaFingerprint != a::b::c::Second::kSchemaFingerprint);
static_assert(!std::is_default_constructible_v<Everything>);
static_assert(std::is_class_v<Everything::Client> && std::is_class_v<Everything::Service>);
static_assert(std::has_virtual_destructor_v<Everything::Service>);
static_assert(std::is_polymorphic_v<kw::delete_::Service>);

// Fields-as-arguments overloads: present when every field fits, absent otherwise.
template <class C>
concept GetTakesFields = requires(const C& c, const a::b::c::Vec3* v) {
  c.Get(uint64_t{1}, 0.5, true, a::b::c::Level_High, v, std::string_view("n"),
        geo::shapes::Color_Red, int8_t{1}, geo::shapes::Flags_Visible);
};
static_assert(GetTakesFields<Everything::Client>);

template <class C>
concept PutTakesFields = requires(const C& c) {
  c.Put(a::b::c::Payload_NONE);
};
static_assert(!PutTakesFields<Everything::Client>);  // Rich has a union, vectors, a table

template <class C>
concept PingTakesNothing = requires(const C& c) {
  { c.Ping() } -> std::same_as<ferry::Result<ferry::ReplyView<a::b::c::Empty>>>;
};
static_assert(PingTakesNothing<Everything::Client>);

template <class C>
concept NotifyIsOneway = requires(const C& c, const a::b::c::Vec3* v) {
  {
    c.Notify(uint64_t{1}, 0.5, true, a::b::c::Level_Low, v, "n", geo::shapes::Color_Red, int8_t{1},
             geo::shapes::Flags_Visible)
    } -> std::same_as<ferry::Status>;
};
static_assert(NotifyIsOneway<Everything::Client>);

// Async unary calls: from a builder or the fields, with a callback taking the result or with
// options (the non-template overload wins), never with a callback of the wrong signature.
using RichResult = ferry::Result<ferry::ReplyView<a::b::c::Rich>>;
template <class C>
concept GetHasAsyncCalls = requires(const C& c, ferry::RequestBuilder<Simple>&& r,
                                    const ferry::CallOptions& o, const a::b::c::Vec3* v) {
  { c.GetAsync(std::move(r)) } -> std::same_as<ferry::AsyncReply<a::b::c::Rich>>;
  { c.GetAsync(std::move(r), o) } -> std::same_as<ferry::AsyncReply<a::b::c::Rich>>;
  {
    c.GetAsync(std::move(r), ferry::CallOptions{})
    } -> std::same_as<ferry::AsyncReply<a::b::c::Rich>>;
  {
    c.GetAsync(std::move(r), [](RichResult) {})
    } -> std::same_as<void>;
  {
    c.GetAsync(
        std::move(r), [](RichResult) {}, o)
    } -> std::same_as<void>;
  {
    c.GetAsync(uint64_t{1}, 0.5, true, a::b::c::Level_High, v, std::string_view("n"),
               geo::shapes::Color_Red, int8_t{1}, geo::shapes::Flags_Visible, o)
    } -> std::same_as<ferry::AsyncReply<a::b::c::Rich>>;
};
static_assert(GetHasAsyncCalls<Everything::Client>);

template <class C>
concept GetAsyncTakesAnyCallback = requires(const C& c, ferry::RequestBuilder<Simple>&& r) {
  c.GetAsync(std::move(r), [](int) {});
};
static_assert(!GetAsyncTakesAnyCallback<Everything::Client>);

template <class C>
concept OnlyUnaryMethodsHaveAsyncCalls = requires(const C& c, ferry::RequestBuilder<Simple>&& r) {
  c.NotifyAsync(std::move(r));
}
|| requires(const C& c, ferry::RequestBuilder<Simple>&& r) { c.WatchAsync(std::move(r)); };
static_assert(!OnlyUnaryMethodsHaveAsyncCalls<Everything::Client>);

// Streams: a server stream from a builder or the fields; client and bidi streams open bare.
template <class C>
concept StreamingCallsOpenStreams = requires(const C& c, ferry::RequestBuilder<Simple>&& r,
                                             const ferry::CallOptions& o, const a::b::c::Vec3* v) {
  { c.Watch(std::move(r)) } -> std::same_as<ferry::ClientReader<a::b::c::Rich>>;
  {
    c.Watch(uint64_t{1}, 0.5, true, a::b::c::Level_Low, v, "n", geo::shapes::Color_Red, int8_t{1},
            geo::shapes::Flags_Visible, o)
    } -> std::same_as<ferry::ClientReader<a::b::c::Rich>>;
  { c.Upload(o) } -> std::same_as<ferry::ClientWriter<a::b::c::Rich, a::b::c::Empty>>;
  { c.Chat() } -> std::same_as<ferry::ClientReaderWriter<Simple, Simple>>;
};
static_assert(StreamingCallsOpenStreams<Everything::Client>);

template <class C>
concept ClientAndBidiStreamsTakeNoRequest = requires(const C& c,
                                                     ferry::RequestBuilder<Simple>&& r) {
  c.Chat(std::move(r));
}
|| requires(const C& c) { c.NewChatRequest(); };
static_assert(!ClientAndBidiStreamsTakeNoRequest<Everything::Client>);

// The client holds its own copy of the channel.
static_assert(std::is_constructible_v<Everything::Client, ferry::Channel>);
static_assert(!std::is_convertible_v<ferry::Channel, Everything::Client>);
static_assert(std::is_copy_constructible_v<Everything::Client>);
static_assert(std::is_same_v<decltype(std::declval<const Everything::Client&>().channel()),
                             const ferry::Channel&>);

// Types from other namespaces, and a method named like its request type.
template <class C>
concept MeasureTakesFields = requires(const C& c, const geo::shapes::Point* p) {
  {
    c.Measure(1.0, std::string_view("m"), p, geo::shapes::Color_Blue)
    } -> std::same_as<ferry::Result<ferry::ReplyView<geo::shapes::Polygon>>>;
};
static_assert(MeasureTakesFields<Everything::Client>);

template <class C>
concept SimpleMethodExists = requires(const C& c, ferry::RequestBuilder<Simple>&& r) {
  { c.Simple(std::move(r)) } -> std::same_as<ferry::Result<ferry::ReplyView<Simple>>>;
};
static_assert(SimpleMethodExists<a::b::c::Second::Client>);

// Keywords: escaped like flatc, and fields named like generated locals.
template <class C>
concept KeywordOverloads = requires(const C& c, const kw::Register* r) {
  c.new_(1, std::string_view("ns"), kw::Mode_case_, r, true, int64_t{2});
  { c.operator_(1, 2, 3) } -> std::same_as<ferry::Result<ferry::ReplyView<kw::Opts>>>;
  {
    c.operator_(1, 2, 3, ferry::CallOptions{})
    } -> std::same_as<ferry::Result<ferry::ReplyView<kw::Opts>>>;
};
static_assert(KeywordOverloads<kw::delete_::Client>);

template <class C>
concept PlainEcho = requires(const C& c) {
  c.Echo(std::string_view("hi"), 3);
};
static_assert(PlainEcho<::Plain::Client>);

// Names that shadow std, C++ types, their own type or flatc's CreateX: the header compiled, and
// the fields-as-arguments overload exists with fully qualified parameter types.
template <class C>
concept HostileGetTakesFields = requires(const C& c, const hostile::std::point* p) {
  {
    c.Get(hostile::std::level_hi, p, 2, uint64_t{3}, 4, 5, std::string_view("n"))
    } -> std::same_as<ferry::Result<ferry::ReplyView<hostile::std::std>>>;
  // The async callback form from the fields.
  c.GetAsync(hostile::std::level_hi, p, 2, uint64_t{3}, 4, 5, std::string_view("n"),
             [](ferry::Result<ferry::ReplyView<hostile::std::std>>) {});
};
static_assert(HostileGetTakesFields<hostile::std::Files::Client>);
static_assert(hostile::other::std::kFullName == "hostile.other.std");
template <class C>
concept HostileStdFieldIsAParameter = requires(const C& c) {
  c.Get(1);
};
static_assert(HostileStdFieldIsAParameter<hostile::other::std::Client>);
template <class C>
concept HostileCallbackNames = requires(const C& c,
                                        ferry::RequestBuilder<hostile::std::Callback>&& r) {
  {
    c.CallAsync(std::move(r), [](ferry::Result<ferry::ReplyView<hostile::std::Callback>>) {})
    } -> std::same_as<void>;
  { c.CallAsync(1, 2, 3) } -> std::same_as<ferry::AsyncReply<hostile::std::Callback>>;
  { c.TailAsync(1) } -> std::same_as<ferry::Result<ferry::ReplyView<hostile::std::Callback>>>;
  {
    c.Pipe()
    } -> std::same_as<ferry::ClientReaderWriter<hostile::std::stream, hostile::std::Callback>>;
};
static_assert(HostileCallbackNames<hostile::std::Files::Client>);

// Server side ------------------------------------------------------------------------------

// A handler's context outside a server.
class TestContext final : public ferry::CallContext {
 public:
  explicit TestContext(std::string_view method) : method_(method) {}
  std::string_view method() const override { return method_; }
  Clock::time_point Deadline() const override { return Clock::time_point::max(); }
  bool Cancelled() const override { return false; }
  bool WaitForCancel(Clock::time_point) const override { return false; }
  void OnCancel(std::function<void()>) override {}

 private:
  std::string_view method_;
};

// A stream on which nothing arrives and every write is accepted.
class EmptyStreamPort final : public ferry::internal::ServerStreamPort {
 public:
  ferry::internal::OutgoingMessage NewMessage(size_t) override { return {}; }
  ferry::Status Write(ferry::internal::OutgoingMessage) override { return ferry::Status::Ok(); }
  std::optional<ferry::internal::IncomingMessage> Read() override { return std::nullopt; }
  void Reject(ferry::Status) override {}
};

class EverythingImpl final : public Everything::Service {
 public:
  ferry::Status Get(ferry::CallContext&, const Simple&, ferry::Reply<a::b::c::Rich>&) override {
    return ferry::Status::Ok();
  }
  ferry::Status Notify(ferry::CallContext&, const Simple&) override { return ferry::Status::Ok(); }
  ferry::Status Watch(ferry::CallContext&, const Simple& request,
                      ferry::ServerWriter<a::b::c::Rich>&) override {
    return ferry::Status::NotFound("watch " + std::to_string(request.id()));
  }
  ferry::Status Chat(ferry::CallContext&, ferry::ServerStream<Simple, Simple>& stream) override {
    int read = 0;
    for (auto& message : stream) read += message->id() > 0 ? 1 : 0;
    return ferry::Status::NotFound("chat read " + std::to_string(read));
  }
};

class KeywordImpl final : public kw::delete_::Service {
 public:
  ferry::Status new_(ferry::CallContext&, const kw::class_&, ferry::Reply<kw::class_>&) override {
    return ferry::Status::Ok();
  }
  ferry::Status requires_(ferry::CallContext&,
                          ferry::ServerStream<kw::class_, kw::class_>&) override {
    return ferry::Status::Ok();
  }
};

TEST(FerrycCorpus, FerryBindListsEveryMethodWithItsIdAndKind) {
  ferry::ServiceBinding binding = FerryBind(std::make_shared<EverythingImpl>());

  EXPECT_EQ(binding.full_name(), "a.b.c.Everything");
  EXPECT_EQ(binding.schema_fingerprint(), Everything::kSchemaFingerprint);
  ASSERT_EQ(binding.methods().size(), 10u);
  EXPECT_EQ(binding.methods()[0].name, "a.b.c.Everything.Get");
  EXPECT_EQ(binding.methods()[0].id, static_cast<uint32_t>(Everything::Method::kGet));
  EXPECT_EQ(binding.methods()[0].kind, ferry::MethodKind::kUnary);
  EXPECT_TRUE(binding.methods()[0].unary);
  EXPECT_EQ(binding.methods()[3].kind, ferry::MethodKind::kOneway);
  EXPECT_TRUE(binding.methods()[3].unary);
  EXPECT_EQ(binding.methods()[5].kind, ferry::MethodKind::kServerStreaming);
  EXPECT_TRUE(binding.methods()[5].stream);
  EXPECT_NE(binding.methods()[5].verify_request, nullptr);
  EXPECT_EQ(binding.methods()[6].kind, ferry::MethodKind::kClientStreaming);
  EXPECT_TRUE(binding.methods()[6].stream);
  EXPECT_EQ(binding.methods()[6].verify_request, nullptr);
  EXPECT_EQ(binding.methods()[7].kind, ferry::MethodKind::kBidiStreaming);
  EXPECT_TRUE(binding.methods()[7].stream);
  EXPECT_EQ(binding.methods()[8].kind, ferry::MethodKind::kUnary);  // streaming: "none"
}

TEST(FerrycCorpus, StreamingMethodsReachTheOverridesOrAnswerUnimplemented) {
  ferry::ServiceBinding binding = FerryBind(std::make_shared<EverythingImpl>());
  ASSERT_EQ(binding.methods().size(), 10u);
  TestContext context("a.b.c.Everything.Watch");
  EmptyStreamPort port;
  ferry::internal::OutgoingMessage reply;
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(a::b::c::CreateSimple(fbb, 7));

  ferry::Status watch =
      binding.methods()[5].stream(context, fbb.GetBufferPointer(), fbb.GetSize(), port, reply,
                                  nullptr);
  ferry::Status upload = binding.methods()[6].stream(context, nullptr, 0, port, reply, nullptr);
  ferry::Status chat = binding.methods()[7].stream(context, nullptr, 0, port, reply, nullptr);

  EXPECT_EQ(watch.message(), "watch 7");
  EXPECT_EQ(upload.code(), ferry::StatusCode::kUnimplemented);
  EXPECT_EQ(upload.message(), "a.b.c.Everything.Upload is not implemented by this server");
  EXPECT_EQ(chat.message(), "chat read 0");
}

TEST(FerrycCorpus, KeywordNamedServiceBindsUnderItsSchemaName) {
  ferry::ServiceBinding binding = FerryBind(std::make_shared<KeywordImpl>());

  EXPECT_EQ(binding.full_name(), "kw.delete");
  ASSERT_EQ(binding.methods().size(), 4u);
  EXPECT_EQ(binding.methods()[0].name, "kw.delete.new");
}

TEST(FerrycCorpus, UnimplementedMethodsAnswerUnimplemented) {
  EverythingImpl impl;
  TestContext context("a.b.c.Everything.Put");
  EmptyStreamPort port;
  ferry::ServerWriter<a::b::c::Rich> writer(port);
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(a::b::c::CreateSimple(fbb));
  const auto* simple = flatbuffers::GetRoot<Simple>(fbb.GetBufferPointer());

  ferry::Status status = static_cast<Everything::Service&>(impl).Forget(
      context, *flatbuffers::GetRoot<a::b::c::Empty>(fbb.GetBufferPointer()));
  ferry::Status watch = impl.Everything::Service::Watch(context, *simple, writer);
  ferry::Status notify = impl.Notify(context, *simple);

  EXPECT_EQ(status.code(), ferry::StatusCode::kUnimplemented);
  EXPECT_EQ(status.message(), "a.b.c.Everything.Forget is not implemented by this server");
  EXPECT_EQ(watch.code(), ferry::StatusCode::kUnimplemented);
  EXPECT_EQ(watch.message(), "a.b.c.Everything.Watch is not implemented by this server");
  EXPECT_TRUE(notify.ok());
}

}  // namespace
