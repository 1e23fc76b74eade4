// Stable method ids and service fingerprints. Any peer must be able to recompute them from the
// schema alone, so the derivations below are part of the wire contract: never change them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ferryc {

// FNV-1a, 32 and 64 bits (offset basis 0x811c9dc5 / 0xcbf29ce484222325,
// prime 0x01000193 / 0x100000001b3).
uint32_t Fnv1a32(std::string_view bytes);
uint64_t Fnv1a64(std::string_view bytes);

// A method's id: Fnv1a32("<namespace>.<Service>.<Method>"), schema spellings (unescaped),
// e.g. Fnv1a32("demo.Calculator.Add"). No namespace: "<Service>.<Method>".
uint32_t MethodId(std::string_view service_full_name, std::string_view method_name);

// What the fingerprint covers for one method.
struct FingerprintedMethod {
  std::string name;
  std::string kind;  // "unary", "server_streaming", "client_streaming", "bidi_streaming", "oneway"
  std::string request_full_name;  // "demo.AddRequest"
  std::string reply_full_name;
};

// Fnv1a64 over "<service full name>\n" followed, for each method in the order given, by
// "<name> <kind> <request full name> <reply full name>\n".
uint64_t SchemaFingerprint(std::string_view service_full_name,
                           const std::vector<FingerprintedMethod>& methods);

}  // namespace ferryc
