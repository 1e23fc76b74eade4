// Recycling message buffers, with bounds on idle memory and on how long it stays idle, and
// charging a server's memory budget.
#include "call/buffer_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <new>
#include <string>
#include <utility>

namespace ferry::internal {
namespace {

constexpr size_t kSmallest = 4096;
constexpr std::align_val_t kAlignment{16};

// Small buffers in power-of-two classes; large ones in 64 KiB steps (a mapping costs whole
// pages, and a power of two would charge a 32 MiB frame for 64 MiB).
size_t CapacityFor(size_t size) {
  const size_t at_least = std::max(size, kSmallest);
  if (at_least <= BufferPool::kLargeBytes / 2) return std::bit_ceil(at_least);
  const size_t step = BufferPool::kLargeBytes;
  return (at_least + step - 1) / step * step;
}

bool IsLarge(size_t capacity) { return capacity >= BufferPool::kLargeBytes; }

// A large buffer is a mapping of its own: unmapping it returns its pages at once, which
// memory freed into the heap would not (the heap keeps what lies below its top).
uint8_t* AllocateBytes(size_t capacity) {
  if (!IsLarge(capacity)) return static_cast<uint8_t*>(::operator new(capacity, kAlignment));
  void* p = mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return static_cast<uint8_t*>(p);
}

void FreeBytes(uint8_t* data, size_t capacity) {
  if (IsLarge(capacity)) {
    munmap(data, capacity);
  } else {
    ::operator delete(data, kAlignment);
  }
}

}  // namespace

PooledBuffer& PooledBuffer::operator=(PooledBuffer&& other) noexcept {
  if (this != &other) {
    Return();
    data_ = std::exchange(other.data_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
    size_ = std::exchange(other.size_, 0);
    charged_ = std::exchange(other.charged_, false);
    pool_ = std::move(other.pool_);
  }
  return *this;
}

PooledBuffer::~PooledBuffer() { Return(); }

void PooledBuffer::Return() {
  if (data_ != nullptr && pool_) pool_->Give(data_, capacity_, charged_);
  data_ = nullptr;
  capacity_ = 0;
  size_ = 0;
  charged_ = false;
  pool_.reset();
}

IncomingMessage PooledBuffer::ToMessage(size_t offset, size_t length) && {
  const uint8_t* data = data_ + offset;
  std::shared_ptr<BufferPool> pool = pool_;
  // The token carries the buffer back to ReleaseMessage.
  auto* owned = new PooledBuffer(std::move(*this));
  return IncomingMessage(data, length, std::move(pool), reinterpret_cast<uint64_t>(owned));
}

std::shared_ptr<BufferPool> BufferPool::Create(size_t max_idle_bytes,
                                               std::shared_ptr<MemoryBudget> budget) {
  std::shared_ptr<BufferPool> pool(new BufferPool(max_idle_bytes, budget));
  if (budget != nullptr) budget->AddReclaimable(pool.get());
  return pool;
}

BufferPool::~BufferPool() {
  if (budget_ != nullptr) budget_->RemoveReclaimable(this);
  Free(idle_);
}

bool BufferPool::ReuseLocked(size_t size, Idle* out) {
  const size_t wanted = CapacityFor(size);
  auto best = idle_.end();
  for (auto it = idle_.begin(); it != idle_.end(); ++it) {
    const bool fits = IsLarge(wanted) ? it->capacity >= wanted && it->capacity <= 4 * wanted
                                      : it->capacity == wanted;
    if (fits && (best == idle_.end() || it->capacity < best->capacity)) best = it;
  }
  if (best == idle_.end()) return false;
  *out = *best;
  idle_.erase(best);
  idle_bytes_ -= out->capacity;
  if (!IsLarge(out->capacity)) small_idle_bytes_ -= out->capacity;
  return true;
}

template <class Drop>
void BufferPool::CollectLocked(Drop drop, std::vector<Idle>* freed) {
  next_trim_ = Clock::time_point::max();
  std::vector<Idle> kept;
  for (const Idle& idle : idle_) {
    if (drop(idle)) {
      freed->push_back(idle);
      idle_bytes_ -= idle.capacity;
      if (!IsLarge(idle.capacity)) small_idle_bytes_ -= idle.capacity;
      continue;
    }
    kept.push_back(idle);
    if (IsLarge(idle.capacity)) next_trim_ = std::min(next_trim_, idle.since + kIdleLifetime);
  }
  idle_ = std::move(kept);
}

void BufferPool::CollectAgedLocked(Clock::time_point now, std::vector<Idle>* freed) {
  if (now < next_trim_) return;
  CollectLocked(
      [now](const Idle& idle) {
        return IsLarge(idle.capacity) && now >= idle.since + kIdleLifetime;
      },
      freed);
}

void BufferPool::Free(const std::vector<Idle>& freed) {
  uint64_t charged = 0;
  for (const Idle& idle : freed) {
    FreeBytes(idle.data, idle.capacity);
    if (idle.charged) charged += idle.capacity;
  }
  if (charged > 0 && budget_ != nullptr) budget_->Release(charged);
}

bool BufferPool::TakeIdle(size_t size, Idle* reused) {
  const Clock::time_point now = Clock::now();
  std::vector<Idle> aged;
  bool found = false;
  {
    std::lock_guard lock(mutex_);
    CollectAgedLocked(now, &aged);
    found = ReuseLocked(size, reused);
  }
  Free(aged);  // outside the lock: unmapping takes a while
  return found;
}

PooledBuffer BufferPool::Take(size_t size) {
  Idle reused{};
  const bool found = TakeIdle(size, &reused);
  PooledBuffer buffer;
  if (found) {
    // Memory being built into is not counted: only received frames and idle buffers are.
    if (reused.charged && budget_ != nullptr) budget_->Release(reused.capacity);
    buffer.data_ = reused.data;
    buffer.capacity_ = reused.capacity;
  } else {
    buffer.capacity_ = CapacityFor(size);
    buffer.data_ = AllocateBytes(buffer.capacity_);
  }
  buffer.size_ = size;
  buffer.pool_ = shared_from_this();
  return buffer;
}

Result<PooledBuffer> BufferPool::TakeCharged(size_t size, Clock::time_point deadline,
                                             const std::atomic<bool>* abandon) {
  Idle reused{};
  const bool found = TakeIdle(size, &reused);
  PooledBuffer buffer;
  buffer.pool_ = shared_from_this();
  buffer.size_ = size;
  if (found) {  // an idle buffer is charged already (when there is a budget)
    buffer.data_ = reused.data;
    buffer.capacity_ = reused.capacity;
    buffer.charged_ = reused.charged;
    return buffer;
  }
  const size_t capacity = CapacityFor(size);
  if (budget_ != nullptr && !budget_->Acquire(capacity, IsLarge(capacity), deadline, abandon)) {
    if (abandon != nullptr && abandon->load(std::memory_order_acquire)) {
      return Status::Unavailable("shut down while waiting for memory");
    }
    return Status::ResourceExhausted("no room in the server's memory budget (" +
                                     std::to_string(budget_->limit()) + " bytes) for a frame of " +
                                     std::to_string(size) + " bytes");
  }
  try {
    buffer.data_ = AllocateBytes(capacity);
  } catch (const std::bad_alloc&) {
    if (budget_ != nullptr) budget_->Release(capacity);
    return Status::ResourceExhausted("out of memory for a frame of " + std::to_string(size) +
                                     " bytes");
  }
  buffer.capacity_ = capacity;
  buffer.charged_ = budget_ != nullptr;
  return buffer;
}

void BufferPool::WakeWaiters() {
  if (budget_ != nullptr) budget_->Wake();
}

void BufferPool::Trim(Clock::time_point now) {
  std::vector<Idle> aged;
  {
    std::lock_guard lock(mutex_);
    CollectAgedLocked(now, &aged);
  }
  Free(aged);
}

BufferPool::Clock::time_point BufferPool::next_trim() const {
  std::lock_guard lock(mutex_);
  return next_trim_;
}

void BufferPool::DropIdle() {
  std::vector<Idle> all;
  {
    std::lock_guard lock(mutex_);
    CollectLocked([](const Idle&) { return true; }, &all);
  }
  Free(all);
}

size_t BufferPool::idle_bytes() const {
  std::lock_guard lock(mutex_);
  return idle_bytes_;
}

void BufferPool::ReleaseMessage(uint64_t token) {
  delete reinterpret_cast<PooledBuffer*>(token);  // its destructor gives the bytes back
}

void BufferPool::Give(uint8_t* data, size_t capacity, bool charged) {
  const Clock::time_point now = Clock::now();
  std::vector<Idle> freed;
  bool keep = false;
  {
    std::lock_guard lock(mutex_);
    CollectAgedLocked(now, &freed);
    const bool large = IsLarge(capacity);
    keep = idle_bytes_ + capacity <= max_idle_bytes_ &&
           (large || small_idle_bytes_ + capacity <= kSmallIdleBytes);
    if (keep && budget_ != nullptr) {
      // Kept idle only while no frame waits for budget; then it is charged as idle memory.
      if (charged) {
        keep = !budget_->contended();
      } else {
        keep = budget_->TryAcquireIdle(capacity, large);
        charged = keep;
      }
    }
    if (keep) {
      idle_.push_back({data, capacity, charged, now});
      idle_bytes_ += capacity;
      if (large) {
        next_trim_ = std::min(next_trim_, now + kIdleLifetime);
      } else {
        small_idle_bytes_ += capacity;
      }
    }
  }
  if (!keep) freed.push_back({data, capacity, charged, now});
  Free(freed);
}

}  // namespace ferry::internal
