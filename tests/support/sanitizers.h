// Whether this build runs under AddressSanitizer or ThreadSanitizer, whose shadow memory and
// quarantine make a process's RSS say nothing about the program's own memory: tests skip
// RSS bounds there.
#pragma once

namespace ferry::testing {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

}  // namespace ferry::testing
