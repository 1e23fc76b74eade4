// Compiles every header generated from the corpus (with -Wall -Wextra -Werror) and checks the
// generated API at compile time: ids, names, nested roles and which overloads exist.
#include <gtest/gtest.h>

#include <memory>
#include <string_view>
#include <type_traits>

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

template <class C>
concept WatchHasNoFieldOverload = !requires(const C& c, const a::b::c::Vec3* v) {
  c.Watch(uint64_t{1}, 0.5, true, a::b::c::Level_Low, v, "n", geo::shapes::Color_Red, int8_t{1},
          geo::shapes::Flags_Visible);
};
static_assert(WatchHasNoFieldOverload<Everything::Client>);

template <class C>
concept StreamingTakesBuilder = requires(const C& c, ferry::RequestBuilder<Simple>&& r) {
  { c.Watch(std::move(r)) } -> std::same_as<ferry::Status>;
  { c.Chat(std::move(r)) } -> std::same_as<ferry::Status>;
};
static_assert(StreamingTakesBuilder<Everything::Client>);

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
};
static_assert(HostileGetTakesFields<hostile::std::Files::Client>);
static_assert(hostile::other::std::kFullName == "hostile.other.std");
template <class C>
concept HostileStdFieldIsAParameter = requires(const C& c) {
  c.Get(1);
};
static_assert(HostileStdFieldIsAParameter<hostile::other::std::Client>);

// Server side ------------------------------------------------------------------------------

class EverythingImpl final : public Everything::Service {
 public:
  ferry::Status Get(ferry::CallContext&, const Simple&, ferry::Reply<a::b::c::Rich>&) override {
    return ferry::Status::Ok();
  }
  ferry::Status Notify(ferry::CallContext&, const Simple&) override { return ferry::Status::Ok(); }
};

class KeywordImpl final : public kw::delete_::Service {
 public:
  ferry::Status new_(ferry::CallContext&, const kw::class_&, ferry::Reply<kw::class_>&) override {
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
  EXPECT_TRUE(binding.methods()[0].handler);
  EXPECT_EQ(binding.methods()[3].kind, ferry::MethodKind::kOneway);
  EXPECT_EQ(binding.methods()[5].kind, ferry::MethodKind::kServerStreaming);
  EXPECT_FALSE(binding.methods()[5].handler);
  EXPECT_EQ(binding.methods()[6].kind, ferry::MethodKind::kClientStreaming);
  EXPECT_EQ(binding.methods()[7].kind, ferry::MethodKind::kBidiStreaming);
  EXPECT_EQ(binding.methods()[8].kind, ferry::MethodKind::kUnary);  // streaming: "none"
}

TEST(FerrycCorpus, KeywordNamedServiceBindsUnderItsSchemaName) {
  ferry::ServiceBinding binding = FerryBind(std::make_shared<KeywordImpl>());

  EXPECT_EQ(binding.full_name(), "kw.delete");
  ASSERT_EQ(binding.methods().size(), 4u);
  EXPECT_EQ(binding.methods()[0].name, "kw.delete.new");
}

TEST(FerrycCorpus, UnimplementedMethodsAnswerUnimplemented) {
  EverythingImpl impl;
  ferry::CallContext context("a.b.c.Everything.Put", ferry::CallContext::Clock::time_point::max(),
                             nullptr, nullptr);
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(a::b::c::CreateSimple(fbb));
  const auto* simple = flatbuffers::GetRoot<Simple>(fbb.GetBufferPointer());

  ferry::Status status = static_cast<Everything::Service&>(impl).Forget(
      context, *flatbuffers::GetRoot<a::b::c::Empty>(fbb.GetBufferPointer()));
  ferry::Status notify = impl.Notify(context, *simple);

  EXPECT_EQ(status.code(), ferry::StatusCode::kUnimplemented);
  EXPECT_EQ(status.message(), "a.b.c.Everything.Forget is not implemented by this server");
  EXPECT_TRUE(notify.ok());
}

}  // namespace
