// FNV-1a hashing for method ids and service fingerprints.
#include "method_ids.h"

namespace ferryc {

uint32_t Fnv1a32(std::string_view bytes) {
  uint32_t hash = 0x811c9dc5u;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x01000193u;
  }
  return hash;
}

uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

uint32_t MethodId(std::string_view service_full_name, std::string_view method_name) {
  std::string key(service_full_name);
  key += '.';
  key += method_name;
  return Fnv1a32(key);
}

uint64_t SchemaFingerprint(std::string_view service_full_name,
                           const std::vector<FingerprintedMethod>& methods) {
  std::string text(service_full_name);
  text += '\n';
  for (const FingerprintedMethod& m : methods) {
    text += m.name + ' ' + m.kind + ' ' + m.request_full_name + ' ' + m.reply_full_name + '\n';
  }
  return Fnv1a64(text);
}

}  // namespace ferryc
