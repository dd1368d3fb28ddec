// slab_pool.cpp: the per-thread slab pools behind HandleStates, coroutine frames and future/task
// states (DESIGN rule 12; the interface is include/qaio/detail/slab_pool.h).
//
// Why not malloc: the loop makes these objects by the million (W1 batch, W2, W3 in
// docs/benchmarks.md). glibc keeps that many small frees in its fastbins and later walks all of
// them in one malloc_consolidate() call (22% of the W1 batch, and a 40 ms stall inside a single Qt
// time slice in W2); larger ones it coalesces on every free (unlink_chunk was 10% of W3 spawn).
// Here a slot is a pointer pop or push.
//
// Layout: one pool per 8-byte size class per thread. A pool carves 2 MiB blocks into fixed slots;
// each block has its own free list and a count of live slots, so a block whose slots all came back
// is returned to the system (one empty block per class is kept to avoid mapping churn): a burst
// does not pin its peak memory for the life of the thread. A class's first block uses ordinary
// pages, faulted in as it is carved, so a program that makes a few objects of a class pays a few
// KiB; later blocks ask for a transparent huge page (one fault per 2 MiB instead of 512).
//
// Threads: a block belongs to the pool that mapped it. A slot freed by another thread goes to the
// owner's inbox under a mutex, drained when the owner next needs a block. When a thread exits, its
// blocks that still have live slots are orphaned and the last free of each unmaps it. Allocations
// made on a thread after its pools died (by another thread_local's destructor) come from shared
// pools guarded by the same mutex, so every slot of a small size still comes from some pool and
// slab_free never has to guess.
#include "qaio/detail/slab_pool.h"

#include <sys/mman.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

namespace qaio::detail {

namespace {

// AddressSanitizer cannot see a use-after-free inside a pool slot, so sanitized builds take every
// object from operator new: a dangling Handle or frame is then reported where it happens.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUsePool = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kUsePool = false;
#else
constexpr bool kUsePool = true;
#endif
#else
constexpr bool kUsePool = true;
#endif

constexpr std::size_t kBlockSize = std::size_t{2} << 20;
constexpr std::size_t kGranule = 8;
constexpr std::size_t kClasses = kSlabMaxSize / kGranule;  // class i holds slots of (i + 1) * 8 bytes

constexpr std::size_t class_of(std::size_t size) noexcept { return (size + kGranule - 1) / kGranule - 1; }

struct Pool;

struct FreeSlot {
  FreeSlot* next;
};

struct Block {
  // 128 bytes, a multiple of 16: slots of a class whose size is a multiple of 16 are 16-byte aligned.
  static constexpr std::size_t kHeader = 128;

  std::atomic<Pool*> owner;  // nullptr once orphaned (its thread exited while slots were live)
  FreeSlot* free = nullptr;  // slots returned to this block
  std::uint32_t live = 0;    // slots handed out and not returned
  std::uint32_t carved = 0;  // slots taken from the untouched tail so far
  std::uint32_t slot_size;
  std::uint32_t capacity;
  Block* prev = nullptr;  // links in the owner's list of non-current blocks with room
  Block* next = nullptr;
  bool listed = false;

  Block(Pool* p, std::uint32_t size)
      : owner(p), slot_size(size), capacity(static_cast<std::uint32_t>((kBlockSize - kHeader) / size)) {}
  bool has_room() const noexcept { return free != nullptr || carved < capacity; }
  void* take() noexcept {
    ++live;
    if (free) return std::exchange(free, free->next);
    char* slot = reinterpret_cast<char*>(this) + kHeader + std::size_t{slot_size} * carved++;
    // Untouched memory: ask for the line a few slots ahead now, so the caller's stores to the
    // fresh slot (and the atomic that follows them) do not wait for a cache miss each time.
    __builtin_prefetch(slot + 16 * 64, 1);
    return slot;
  }
  void give_back(void* p) noexcept {
    free = ::new (p) FreeSlot{free};
    --live;
  }
};
static_assert(sizeof(Block) <= Block::kHeader);

}  // namespace

void* map_aligned_2mib(bool huge) noexcept {
  // Map twice the size and trim both ends.
  void* raw = ::mmap(nullptr, 2 * kBlockSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (start + kBlockSize - 1) & ~(kBlockSize - 1);
  if (aligned > start) ::munmap(raw, aligned - start);
  const std::uintptr_t end = start + 2 * kBlockSize;
  if (end > aligned + kBlockSize) ::munmap(reinterpret_cast<void*>(aligned + kBlockSize), end - aligned - kBlockSize);
  if (huge) ::madvise(reinterpret_cast<void*>(aligned), kBlockSize, MADV_HUGEPAGE);  // a hint; fine if refused
  return reinterpret_cast<void*>(aligned);
}

namespace {

Block* block_of(void* p) noexcept {
  return reinterpret_cast<Block*>(reinterpret_cast<std::uintptr_t>(p) & ~(kBlockSize - 1));
}

std::atomic<std::size_t> mapped_bytes{0};

Block* map_block(Pool* owner, std::uint32_t slot_size, bool huge) {
  // Aligned to its size: block_of() is then a mask.
  void* memory = map_aligned_2mib(huge);
  if (!memory) throw std::bad_alloc();
  mapped_bytes.fetch_add(kBlockSize, std::memory_order_relaxed);
  return ::new (memory) Block(owner, slot_size);
}

void unmap_block(Block* b) noexcept {
  b->~Block();
  ::munmap(b, kBlockSize);
  mapped_bytes.fetch_sub(kBlockSize, std::memory_order_relaxed);
}

// Guards every cross-thread path: inboxes, the shared pools, and the orphaning of a dying
// thread's blocks.
std::mutex remote_mutex;

struct ThreadPools;

// This thread's pools once made, and whether they were already destroyed (thread exit).
// Constant-initialized and trivially destructible, so both are readable from any destructor on the
// thread, and a thread that only frees slots never constructs pools of its own.
thread_local ThreadPools* tls_pools = nullptr;
thread_local bool pools_destroyed = false;

struct Pool {
  Block* current = nullptr;    // where allocations come from
  Block* with_room = nullptr;  // other blocks with free slots (doubly linked)
  Block* spare = nullptr;      // one empty block kept for the next burst
  std::vector<Block*> blocks;  // every block this pool mapped and still owns
  std::vector<void*> inbox;    // slots freed by other threads (remote_mutex)
  std::atomic<bool> inbox_pending{false};
  std::uint32_t slot_size = 0;
  bool shared = false;  // one of the shared pools (always used under remote_mutex)

  void* allocate() {
    if (current && current->has_room()) return current->take();
    return allocate_slow();
  }

  void free_local(Block* b, void* p) noexcept {
    b->give_back(p);
    if (b == current) return;
    if (b->live == 0) {
      unlist(b);
      retire(b);
    } else if (!b->listed) {
      list(b);
    }
  }

  void* allocate_slow() {
    if (inbox_pending.load(std::memory_order_acquire)) drain_inbox();
    if (!current || !current->has_room()) {
      // The full current block stays out of every list until one of its slots comes back.
      if (with_room) {
        current = with_room;
        unlist(current);
      } else if (spare) {
        current = std::exchange(spare, nullptr);
      } else {
        blocks.reserve(blocks.size() + 1);
        current = map_block(this, slot_size, /*huge=*/!blocks.empty());
        blocks.push_back(current);
      }
    }
    return current->take();
  }

  void drain_inbox() {
    std::vector<void*> slots;
    {
      std::lock_guard lock(remote_mutex);
      slots.swap(inbox);
      inbox_pending.store(false, std::memory_order_relaxed);
    }
    for (void* p : slots) free_local(block_of(p), p);
  }

  void list(Block* b) noexcept {
    b->listed = true;
    b->prev = nullptr;
    b->next = with_room;
    if (with_room) with_room->prev = b;
    with_room = b;
  }
  void unlist(Block* b) noexcept {
    if (!b->listed) return;
    if (b->prev) b->prev->next = b->next;
    if (b->next) b->next->prev = b->prev;
    if (with_room == b) with_room = b->next;
    b->listed = false;
    b->prev = b->next = nullptr;
  }
  // An empty block: keep one as the spare, give the others back to the system.
  void retire(Block* b) noexcept {
    if (!spare) {
      b->free = nullptr;
      b->carved = 0;
      spare = b;
      return;
    }
    std::erase(blocks, b);
    unmap_block(b);
  }

  std::size_t live_bytes() const noexcept {
    std::size_t n = 0;
    for (const Block* b : blocks) n += std::size_t{b->live} * slot_size;
    return n;
  }

  // Thread exit: unmap what is empty, orphan what is still in use (the last free unmaps it).
  void abandon() noexcept {
    for (void* p : inbox) block_of(p)->give_back(p);
    inbox.clear();
    for (Block* b : blocks) {
      if (b->live == 0) {
        unmap_block(b);
      } else {
        b->owner.store(nullptr, std::memory_order_relaxed);
      }
    }
    blocks.clear();
  }
};

struct ThreadPools {
  std::array<Pool, kClasses> pools;
  ThreadPools() {
    for (std::size_t i = 0; i < kClasses; ++i) pools[i].slot_size = static_cast<std::uint32_t>((i + 1) * kGranule);
  }
  ~ThreadPools() {
    if (tls_pools == this) {
      tls_pools = nullptr;
      pools_destroyed = true;
    }
    std::lock_guard lock(remote_mutex);
    for (Pool& p : pools) p.abandon();
  }
};

thread_local ThreadPools thread_pools;

ThreadPools* this_thread_pools() {
  if (tls_pools) return tls_pools;
  if (pools_destroyed) return nullptr;
  tls_pools = &thread_pools;  // the first use constructs them
  return tls_pools;
}

// The pools of threads whose own pools are gone. Never destroyed: slots from them may be freed
// during static destruction.
ThreadPools& shared_pools() {
  static ThreadPools* pools = [] {
    auto* p = new ThreadPools();
    for (Pool& pool : p->pools) pool.shared = true;
    return p;
  }();
  return *pools;
}

}  // namespace

void* slab_allocate(std::size_t size) {
  if (!kUsePool || size > kSlabMaxSize || size == 0) return ::operator new(size);
  if (ThreadPools* mine = this_thread_pools()) return mine->pools[class_of(size)].allocate();
  std::lock_guard lock(remote_mutex);
  return shared_pools().pools[class_of(size)].allocate();
}

void slab_free(void* p, std::size_t size) noexcept {
  if (!kUsePool || size > kSlabMaxSize || size == 0) {
    ::operator delete(p);
    return;
  }
  Block* b = block_of(p);
  Pool* owner = b->owner.load(std::memory_order_relaxed);
  if (tls_pools && owner == &tls_pools->pools[class_of(size)]) {
    owner->free_local(b, p);
    return;
  }
  std::lock_guard lock(remote_mutex);
  owner = b->owner.load(std::memory_order_relaxed);
  if (owner && owner->shared) {
    owner->free_local(b, p);
  } else if (owner) {
    owner->inbox.push_back(p);
    owner->inbox_pending.store(true, std::memory_order_release);
  } else {
    b->give_back(p);  // an orphan: its thread is gone
    if (b->live == 0) unmap_block(b);
  }
}

bool slab_pool_enabled() noexcept { return kUsePool; }

std::size_t slab_mapped_bytes() noexcept { return mapped_bytes.load(std::memory_order_relaxed); }

std::size_t slab_live_bytes_this_thread() noexcept {
  if (!tls_pools) return 0;
  std::size_t n = 0;
  for (const Pool& p : tls_pools->pools) n += p.live_bytes();
  return n;
}

}  // namespace qaio::detail
