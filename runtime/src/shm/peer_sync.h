// ThreadSanitizer cannot see that another process orders our threads' accesses: thread A
// builds a reply in a slot, the peer frees and reuses the slot, thread B reads a request in
// it. Every hand-over through shared memory is therefore also announced to TSan as a release
// (before publishing) or an acquire (after taking), on one anchor. Compiled out otherwise.
#pragma once

#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace ferry::shm {

#if defined(__SANITIZE_THREAD__)
inline char peer_sync_anchor;
inline void AnnounceRelease() { __tsan_release(&peer_sync_anchor); }
inline void AnnounceAcquire() { __tsan_acquire(&peer_sync_anchor); }
#else
inline void AnnounceRelease() {}
inline void AnnounceAcquire() {}
#endif

}  // namespace ferry::shm
