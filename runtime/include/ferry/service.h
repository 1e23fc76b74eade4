// ferry::ServiceBinding: a service implementation and its method table, as the server sees it.
// Generated code builds one per service (<Service>::Bind / FerryBind); users rarely touch it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ferry/call_context.h"
#include "ferry/message.h"
#include "ferry/status.h"
#include "ferry/stream.h"

namespace ferry {

// The five kinds of methods. Values travel in request descriptors: never renumber.
enum class MethodKind : uint8_t {
  kUnary = 0,
  kServerStreaming = 1,
  kClientStreaming = 2,
  kBidiStreaming = 3,
  kOneway = 4,
};

std::string_view MethodKindName(MethodKind kind);

// What generated code says about one method: its id (fnv1a32 of `full_name`), its name
// ("package.Service.Method") and the layout of its request and reply types (text that ferryc
// writes; see runtime/src/call/schema_layout.h). Lives as long as the program.
struct MethodSignature {
  uint32_t id;
  std::string_view full_name;
  std::string_view layout;
};

class ServiceBinding {
 public:
  // Runs a unary or oneway call on a verified request: a unary handler finishes `reply`.
  // `deferral` lets the handler keep its reply past its return (Reply::Defer); may be null.
  using UnaryHandler = std::function<Status(
      CallContext& context, const uint8_t* request, size_t request_size,
      internal::OutgoingMessage& reply, internal::ReplyDeferral* deferral)>;
  // Runs a streaming call. `request` is the verified request of a server-streaming call
  // (null for the others); a client-streaming handler finishes `reply`.
  using StreamHandler = std::function<Status(
      CallContext& context, const uint8_t* request, size_t request_size,
      internal::ServerStreamPort& stream, internal::OutgoingMessage& reply,
      internal::ReplyDeferral* deferral)>;

  struct Method {
    uint32_t id;
    std::string name;  // "package.Service.Method"
    std::string_view layout;  // MethodSignature::layout
    MethodKind kind;
    // The request's verifier (unary, oneway, server streaming); null when the call opens
    // without a request (client and bidi streaming). The runtime runs it before the handler.
    bool (*verify_request)(const uint8_t* data, size_t size);
    UnaryHandler unary;    // unary, oneway
    StreamHandler stream;  // server, client, bidi streaming
  };

  ServiceBinding(std::string_view full_name, uint64_t schema_fingerprint,
                 std::shared_ptr<void> impl)
      : full_name_(full_name), fingerprint_(schema_fingerprint), impl_(std::move(impl)) {}

  // `call` is Status(*)(void* impl, CallContext&, const Req&, Reply<Rep>&).
  template <class Req, class Rep, class Call>
  void AddUnary(const MethodSignature& signature, Call call) {
    void* impl = impl_.get();
    methods_.push_back({signature.id, std::string(signature.full_name), signature.layout,
                        MethodKind::kUnary, &internal::Verify<Req>,
                        [impl, call](CallContext& ctx, const uint8_t* data, size_t,
                                     internal::OutgoingMessage& reply,
                                     internal::ReplyDeferral* deferral) -> Status {
                          Reply<Rep> typed(reply, deferral);
                          return call(impl, ctx, *flatbuffers::GetRoot<Req>(data), typed);
                        },
                        nullptr});
  }

  // `call` is Status(*)(void* impl, CallContext&, const Req&).
  template <class Req, class Call>
  void AddOneway(const MethodSignature& signature, Call call) {
    void* impl = impl_.get();
    methods_.push_back(
        {signature.id, std::string(signature.full_name), signature.layout, MethodKind::kOneway,
         &internal::Verify<Req>,
         [impl, call](CallContext& ctx, const uint8_t* data, size_t, internal::OutgoingMessage&,
                      internal::ReplyDeferral*) -> Status {
           return call(impl, ctx, *flatbuffers::GetRoot<Req>(data));
         },
         nullptr});
  }

  // `call` is Status(*)(void* impl, CallContext&, const Req&, ServerWriter<Out>&).
  template <class Req, class Out, class Call>
  void AddServerStreaming(const MethodSignature& signature, Call call) {
    void* impl = impl_.get();
    methods_.push_back({signature.id, std::string(signature.full_name), signature.layout,
                        MethodKind::kServerStreaming, &internal::Verify<Req>, nullptr,
                        [impl, call](CallContext& ctx, const uint8_t* data, size_t,
                                     internal::ServerStreamPort& port, internal::OutgoingMessage&,
                                     internal::ReplyDeferral*) -> Status {
                          ServerWriter<Out> writer(port);
                          return call(impl, ctx, *flatbuffers::GetRoot<Req>(data), writer);
                        }});
  }

  // `call` is Status(*)(void* impl, CallContext&, ServerReader<In>&, Reply<Rep>&).
  template <class In, class Rep, class Call>
  void AddClientStreaming(const MethodSignature& signature, Call call) {
    void* impl = impl_.get();
    methods_.push_back(
        {signature.id, std::string(signature.full_name), signature.layout,
         MethodKind::kClientStreaming, nullptr, nullptr,
         [impl, call](CallContext& ctx, const uint8_t*, size_t, internal::ServerStreamPort& port,
                      internal::OutgoingMessage& reply,
                      internal::ReplyDeferral* deferral) -> Status {
           ServerReader<In> reader(port);
           Reply<Rep> typed(reply, deferral);
           return call(impl, ctx, reader, typed);
         }});
  }

  // `call` is Status(*)(void* impl, CallContext&, ServerStream<In, Out>&).
  template <class In, class Out, class Call>
  void AddBidiStreaming(const MethodSignature& signature, Call call) {
    void* impl = impl_.get();
    methods_.push_back(
        {signature.id, std::string(signature.full_name), signature.layout,
         MethodKind::kBidiStreaming, nullptr, nullptr,
         [impl, call](CallContext& ctx, const uint8_t*, size_t, internal::ServerStreamPort& port,
                      internal::OutgoingMessage&, internal::ReplyDeferral*) -> Status {
           ServerStream<In, Out> stream(port);
           return call(impl, ctx, stream);
         }});
  }

  // The binary schema (flatbuffers::Parser::Serialize) of the file declaring the service, which
  // the server's reflection service (ferry.Reflection) hands out. Not copied: lives as long as
  // the program (generated code passes a static array).
  void SetSchema(const uint8_t* data, size_t size) {
    schema_data_ = data;
    schema_size_ = size;
  }

  std::string_view full_name() const { return full_name_; }
  uint64_t schema_fingerprint() const { return fingerprint_; }
  // Null and 0 unless SetSchema was called.
  const uint8_t* schema_data() const { return schema_data_; }
  size_t schema_size() const { return schema_size_; }
  const std::vector<Method>& methods() const { return methods_; }

 private:
  std::string full_name_;
  uint64_t fingerprint_;
  std::shared_ptr<void> impl_;
  std::vector<Method> methods_;
  const uint8_t* schema_data_ = nullptr;
  size_t schema_size_ = 0;
};

}  // namespace ferry
