// ferry::ServiceBinding: a service implementation and its method table, as the server sees it.
// Generated code builds one per service (<Service>::Bind / FerryBind); users rarely touch it.
#pragma once

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

class ServiceBinding {
 public:
  // Runs one call: `request` is the raw, not yet verified request; a unary handler finishes
  // `reply`, a oneway handler leaves it untouched.
  using Handler = std::function<Status(CallContext& context, const uint8_t* request,
                                       size_t request_size, internal::OutgoingMessage& reply)>;

  struct Method {
    uint32_t id;
    std::string name;  // "package.Service.Method"
    MethodKind kind;
    Handler handler;  // empty for kinds the runtime does not serve yet (streaming)
  };

  ServiceBinding(std::string_view full_name, uint64_t schema_fingerprint,
                 std::shared_ptr<void> impl)
      : full_name_(full_name), fingerprint_(schema_fingerprint), impl_(std::move(impl)) {}

  // `call` is Status(*)(void* impl, CallContext&, const Req&, Reply<Rep>&).
  template <class Req, class Rep, class Call>
  void AddUnary(uint32_t id, std::string_view name, Call call) {
    void* impl = impl_.get();
    methods_.push_back({id, Qualified(name), MethodKind::kUnary,
                        [impl, call](CallContext& ctx, const uint8_t* data, size_t size,
                                     internal::OutgoingMessage& reply) -> Status {
                          if (!internal::Verify<Req>(data, size)) return RequestRejected(size);
                          Reply<Rep> typed(reply);
                          return call(impl, ctx, *flatbuffers::GetRoot<Req>(data), typed);
                        }});
  }

  // `call` is Status(*)(void* impl, CallContext&, const Req&).
  template <class Req, class Call>
  void AddOneway(uint32_t id, std::string_view name, Call call) {
    void* impl = impl_.get();
    methods_.push_back({id, Qualified(name), MethodKind::kOneway,
                        [impl, call](CallContext& ctx, const uint8_t* data, size_t size,
                                     internal::OutgoingMessage&) -> Status {
                          if (!internal::Verify<Req>(data, size)) return RequestRejected(size);
                          return call(impl, ctx, *flatbuffers::GetRoot<Req>(data));
                        }});
  }

  // A streaming method: declared so the server can name it, answered with UNIMPLEMENTED until
  // the runtime serves streams.
  void AddStreaming(uint32_t id, std::string_view name, MethodKind kind) {
    methods_.push_back({id, Qualified(name), kind, nullptr});
  }

  std::string_view full_name() const { return full_name_; }
  uint64_t schema_fingerprint() const { return fingerprint_; }
  const std::vector<Method>& methods() const { return methods_; }

 private:
  std::string Qualified(std::string_view method) const {
    return full_name_ + "." + std::string(method);
  }
  static Status RequestRejected(size_t size) {
    return Status::InvalidArgument("request of " + std::to_string(size) +
                                   " bytes failed FlatBuffers verification");
  }

  std::string full_name_;
  uint64_t fingerprint_;
  std::shared_ptr<void> impl_;
  std::vector<Method> methods_;
};

}  // namespace ferry
