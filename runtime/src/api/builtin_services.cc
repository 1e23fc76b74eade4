#include "api/builtin_services.h"

#include <memory>
#include <string>
#include <vector>

#include "api/server_core.h"
#include "call/schema_layout.h"
#include "ferry/reflection.ferry.h"

namespace ferry::internal {
namespace {

class ReflectionService final : public Reflection::Service {
 public:
  explicit ReflectionService(const ServerCore& core) : core_(core) {}

  Status ListServices(CallContext&, const ListServicesRequest&,
                      Reply<ListServicesReply>& reply) override {
    flatbuffers::FlatBufferBuilder& fbb = reply.fbb();
    std::vector<flatbuffers::Offset<ReflectedService>> services;
    for (const ServiceBinding* service : core_.services()) {
      std::vector<flatbuffers::Offset<ReflectedMethod>> methods;
      for (const ServiceBinding::Method& method : service->methods()) {
        // The layout names the request and reply types; a method without one (a binding
        // written by hand) has none to name.
        Result<MessageLayout> layout = ParseLayout(method.layout);
        const std::string request = layout.ok() ? layout->request : "";
        const std::string reply_type = layout.ok() ? layout->reply : "";
        methods.push_back(CreateReflectedMethod(
            fbb, fbb.CreateString(method.name), method.id,
            static_cast<ReflectedKind>(method.kind), fbb.CreateString(request),
            fbb.CreateString(reply_type)));
      }
      services.push_back(CreateReflectedService(fbb, fbb.CreateString(service->full_name()),
                                                fbb.CreateVector(methods),
                                                service->schema_size() > 0));
    }
    reply.Finish(CreateListServicesReply(fbb, fbb.CreateVector(services)));
    return Status::Ok();
  }

  Status Schema(CallContext&, const SchemaRequest& request, Reply<SchemaReply>& reply) override {
    const std::string_view name =
        request.service() != nullptr ? request.service()->string_view() : std::string_view();
    const Result<const ServiceBinding*> service = core_.FindService(name);
    if (!service.ok()) return service.status();
    const size_t size = (*service)->schema_size();
    if (size == 0) {
      return Status::NotFound("the service " + std::string(name) + " carries no schema");
    }
    reply.Reserve(size + 64);
    flatbuffers::FlatBufferBuilder& fbb = reply.fbb();
    fbb.ForceVectorAlignment(size, 1, 8);  // a FlatBuffer of its own
    reply.Finish(CreateSchemaReply(fbb, fbb.CreateVector((*service)->schema_data(), size)));
    return Status::Ok();
  }

  Status Stats(CallContext&, const StatsRequest&, Reply<StatsReply>& reply) override {
    flatbuffers::FlatBufferBuilder& fbb = reply.fbb();
    std::vector<flatbuffers::Offset<ReflectedMethodStats>> methods;
    for (const MethodStats& stats : core_.method_stats()) {
      std::vector<flatbuffers::Offset<StatusCount>> by_status;
      for (const auto& [code, calls] : stats.by_status) {
        by_status.push_back(CreateStatusCount(fbb, static_cast<uint32_t>(code), calls));
      }
      std::vector<flatbuffers::Offset<LatencyBucket>> latency;
      for (const auto& [below_us, calls] : stats.latency) {
        latency.push_back(CreateLatencyBucket(fbb, below_us, calls));
      }
      methods.push_back(CreateReflectedMethodStats(fbb, fbb.CreateString(stats.method),
                                                   stats.calls, stats.errors,
                                                   fbb.CreateVector(by_status),
                                                   fbb.CreateVector(latency)));
    }
    reply.Finish(CreateStatsReply(fbb, fbb.CreateVector(methods)));
    return Status::Ok();
  }

 private:
  const ServerCore& core_;
};

class HealthService final : public Health::Service {
 public:
  explicit HealthService(const ServerCore& core) : core_(core) {}

  Status Check(CallContext&, const HealthCheckRequest& request,
               Reply<HealthCheckReply>& reply) override {
    const std::string_view name =
        request.service() != nullptr ? request.service()->string_view() : std::string_view();
    const Result<bool> serving = core_.Serving(name);
    if (!serving.ok()) return serving.status();
    reply.Finish(CreateHealthCheckReply(
        reply.fbb(), *serving ? ServingStatus::Serving : ServingStatus::NotServing));
    return Status::Ok();
  }

 private:
  const ServerCore& core_;
};

}  // namespace

ServiceBinding ReflectionBinding(const ServerCore& core) {
  return FerryBind(std::static_pointer_cast<Reflection::Service>(
      std::make_shared<ReflectionService>(core)));
}

ServiceBinding HealthBinding(const ServerCore& core) {
  return FerryBind(
      std::static_pointer_cast<Health::Service>(std::make_shared<HealthService>(core)));
}

}  // namespace ferry::internal
