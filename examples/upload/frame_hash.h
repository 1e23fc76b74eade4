// The digest both sides of the upload example compute: a multiply-xorshift hash over 64-bit
// words (a few milliseconds for 8 MiB). The client hashes what it writes, the server what it
// reads in place; equal hashes mean every byte arrived, in order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace upload {

inline constexpr uint64_t kHashStart = 0xcbf29ce484222325ULL;

inline uint64_t HashWord(uint64_t hash, uint64_t word) {
  hash = (hash ^ word) * 0xff51afd7ed558ccdULL;
  return hash ^ (hash >> 32);  // the high bits reach the low ones, too
}

// Continues `hash` over `size` bytes (read 8 at a time; a tail as one zero-padded word).
inline uint64_t HashBytes(uint64_t hash, const uint8_t* bytes, size_t size) {
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, bytes + i, 8);  // the vector need not be 8-byte aligned
    hash = HashWord(hash, word);
  }
  if (i < size) {
    uint64_t word = 0;
    std::memcpy(&word, bytes + i, size - i);
    hash = HashWord(hash, word);
  }
  return hash;
}

// Fills frame `seq` with its pixels (a pattern that differs per word and per frame) and
// continues `hash` over them, in one pass. `size` is a multiple of 8.
inline uint64_t FillFrame(uint8_t* pixels, size_t size, uint64_t seq, uint64_t hash) {
  for (size_t i = 0; i < size; i += 8) {
    const uint64_t word = ((seq << 40) ^ i) * 0x9e3779b97f4a7c15ULL;
    std::memcpy(pixels + i, &word, 8);
    hash = HashWord(hash, word);
  }
  return hash;
}

}  // namespace upload
