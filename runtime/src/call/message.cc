// Out-of-line pieces of the message types.
#include "ferry/message.h"

#include "ferry/service.h"

namespace ferry {
namespace internal {

// FlatBuffers' own default is 1 KiB; a smaller first slot wastes nothing since slot classes
// start at 4 KiB anyway.
constexpr size_t kDefaultInitialSize = 1024;

OutgoingMessage::OutgoingMessage(std::unique_ptr<MessageAllocator> allocator, size_t size_hint)
    : allocator_(std::move(allocator)),
      fbb_(size_hint != 0 ? size_hint : kDefaultInitialSize, allocator_.get(), false) {}

}  // namespace internal

std::string_view MethodKindName(MethodKind kind) {
  switch (kind) {
    case MethodKind::kUnary: return "unary";
    case MethodKind::kServerStreaming: return "server-streaming";
    case MethodKind::kClientStreaming: return "client-streaming";
    case MethodKind::kBidiStreaming: return "bidi-streaming";
    case MethodKind::kOneway: return "oneway";
  }
  return "unknown";
}

}  // namespace ferry
