// The payload messages of the throughput cases, on both sides: built in place with only their
// last byte written (the producer's own work is not what is measured), read by that byte.
#pragma once

#include <cstddef>
#include <cstdint>

#include "bench.ferry.h"

namespace ferry_bench {

// Finishes `message` (a builder of a ferry.bench.Payload) with `payload` bytes whose last one
// is `last`; the others are left as the transport memory had them.
template <class Builder>
void FinishPayload(Builder& message, size_t payload, uint8_t last) {
  uint8_t* bytes = nullptr;
  auto data = message.fbb().CreateUninitializedVector(payload, &bytes);
  if (payload > 0) bytes[payload - 1] = last;
  message.Finish(ferry::bench::CreatePayload(message.fbb(), data));
}

// The payload's last byte, read in place (0 when it is empty).
inline uint8_t LastByte(const ferry::bench::Payload& payload) {
  const auto* data = payload.data();
  if (data == nullptr || data->size() == 0) return 0;
  return *static_cast<const volatile uint8_t*>(data->data() + data->size() - 1);
}

}  // namespace ferry_bench
