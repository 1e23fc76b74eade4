// Cross-process wait and wake on a 32-bit word in shared memory, and whether spinning before a
// wait can help at all.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace ferry::shm {

// Sleeps while *word == expected, at most `timeout` (which must be positive). Returns on a
// wake, a timeout, a signal or a changed value: callers re-check their condition.
void FutexWait(std::atomic<uint32_t>& word, uint32_t expected, std::chrono::nanoseconds timeout);

// Wakes up to `count` sleepers on `word`.
void FutexWake(std::atomic<uint32_t>& word, int count);

// The CPU this thread runs on now (a vDSO call, cheap); -1 when unknown.
int CurrentCpu();

// Whether spinning can let the peer make progress: false on a one-CPU machine, or when this
// thread is pinned to the very CPU the peer last ran on (`peer_cpu`, negative when unknown).
bool SpinningCanHelp(int peer_cpu);

}  // namespace ferry::shm
