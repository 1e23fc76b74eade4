// FNV-1a hashing for method ids and service fingerprints.
#include "method_ids.h"

namespace ferryc {
namespace {

// FNV-1a with the offset basis and prime of the hash's width.
template <class Hash>
Hash Fnv1a(std::string_view bytes, Hash offset_basis, Hash prime) {
  Hash hash = offset_basis;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= prime;
  }
  return hash;
}

}  // namespace

uint32_t Fnv1a32(std::string_view bytes) {
  return Fnv1a<uint32_t>(bytes, 0x811c9dc5u, 0x01000193u);
}

uint64_t Fnv1a64(std::string_view bytes) {
  return Fnv1a<uint64_t>(bytes, 0xcbf29ce484222325ull, 0x100000001b3ull);
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
