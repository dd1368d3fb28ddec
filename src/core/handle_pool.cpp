// handle_pool.cpp: the per-thread slab pool HandleStates come from (DESIGN rule 12).
//
// Why not malloc: every call_soon/call_later/task step needs one HandleState, often a million at
// once (W1 batch, W2, W3 in docs/benchmarks.md). glibc keeps that many small frees in its fastbins
// and later walks all of them in one malloc_consolidate() call: 22% of the W1 batch, and a 40 ms
// stall inside a single Qt time slice in W2. Here a slot is a pointer push or pop.
//
// Layout: 2 MiB blocks (one transparent huge page each, so a burst of handles costs few page
// faults), carved into fixed slots. Each block has its own free list and a count of live slots,
// so a block whose slots all came back is returned to the system (one empty block is kept to
// avoid mapping churn): a burst does not pin its peak memory for the life of the thread.
//
// Threads: a block belongs to the thread that mapped it. A slot freed by another thread (a Handle
// copy dropped elsewhere: rare) goes to its owner's inbox under a mutex, drained when the owner
// next needs a block. When a thread exits, its blocks that still have live slots are orphaned
// and the last free of each unmaps it.
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>
#include <vector>

#include "qaio/handle.h"

namespace qaio::detail {

namespace {

constexpr std::size_t kBlockSize = std::size_t{2} << 20;
constexpr std::size_t kSlotSize = (sizeof(HandleState) + alignof(HandleState) - 1) & ~(alignof(HandleState) - 1);
static_assert(alignof(HandleState) <= 64, "block headers are 64-byte aligned");

struct Pool;

struct FreeSlot {
  FreeSlot* next;
};

struct Block {
  std::atomic<Pool*> owner;  // nullptr once orphaned (its thread exited while slots were live)
  FreeSlot* free = nullptr;  // slots returned to this block
  std::size_t live = 0;      // slots handed out and not returned
  std::size_t carved = 0;    // slots taken from the untouched tail so far
  Block* prev = nullptr;     // links in the owner's list of non-current blocks with room
  Block* next = nullptr;
  bool listed = false;

  static constexpr std::size_t kHeader = 128;
  static constexpr std::size_t kCapacity = (kBlockSize - kHeader) / kSlotSize;

  explicit Block(Pool* p) : owner(p) {}
  bool has_room() const noexcept { return free != nullptr || carved < kCapacity; }
  void* take() noexcept {
    ++live;
    if (free) return std::exchange(free, free->next);
    return reinterpret_cast<char*>(this) + kHeader + kSlotSize * carved++;
  }
  void give_back(void* p) noexcept {
    free = ::new (p) FreeSlot{free};
    --live;
  }
};
static_assert(sizeof(Block) <= Block::kHeader);

Block* block_of(void* p) noexcept {
  return reinterpret_cast<Block*>(reinterpret_cast<std::uintptr_t>(p) & ~(kBlockSize - 1));
}

std::atomic<std::size_t> mapped_bytes{0};

Block* map_block(Pool* owner) {
  // Map twice the size and trim, so the block is aligned to its size: block_of() is then a mask.
  void* raw = ::mmap(nullptr, 2 * kBlockSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (start + kBlockSize - 1) & ~(kBlockSize - 1);
  if (aligned > start) ::munmap(raw, aligned - start);
  const std::uintptr_t end = start + 2 * kBlockSize;
  if (end > aligned + kBlockSize) ::munmap(reinterpret_cast<void*>(aligned + kBlockSize), end - aligned - kBlockSize);
  ::madvise(reinterpret_cast<void*>(aligned), kBlockSize, MADV_HUGEPAGE);  // a hint; fine if refused
  mapped_bytes.fetch_add(kBlockSize, std::memory_order_relaxed);
  return ::new (reinterpret_cast<void*>(aligned)) Block(owner);
}

void unmap_block(Block* b) noexcept {
  b->~Block();
  ::munmap(b, kBlockSize);
  mapped_bytes.fetch_sub(kBlockSize, std::memory_order_relaxed);
}

// Guards every cross-thread path: inboxes, and the orphaning of a dying thread's blocks.
std::mutex remote_mutex;

// Set when this thread's pool is destroyed (thread exit). A handle made later on the same thread,
// by another thread_local's or a static's destructor, then comes from operator new instead.
// Constant-initialized and trivially destructible, so it is still readable at that point.
thread_local bool pool_destroyed = false;

struct Pool {
  Block* current = nullptr;    // where allocations come from
  Block* with_room = nullptr;  // other blocks with free slots (doubly linked)
  Block* spare = nullptr;      // one empty block kept for the next burst
  std::vector<Block*> blocks;  // every block this pool mapped and still owns
  std::vector<void*> inbox;    // slots freed by other threads (remote_mutex)
  std::atomic<bool> inbox_pending{false};

  ~Pool();

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
        current = map_block(this);
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
};

Pool::~Pool() {
  pool_destroyed = true;
  std::lock_guard lock(remote_mutex);
  for (void* p : inbox) block_of(p)->give_back(p);
  inbox.clear();
  for (Block* b : blocks) {
    if (b->live == 0) {
      unmap_block(b);
    } else {
      b->owner.store(nullptr, std::memory_order_relaxed);  // the last free unmaps it
    }
  }
}

thread_local Pool pool;

}  // namespace

bool handle_pool_usable() noexcept { return !pool_destroyed; }

void* allocate_handle_slot() { return pool.allocate(); }

void free_handle_slot(void* p) noexcept {
  Block* b = block_of(p);
  if (b->owner.load(std::memory_order_relaxed) == &pool) {
    pool.free_local(b, p);
    return;
  }
  std::lock_guard lock(remote_mutex);
  if (Pool* owner = b->owner.load(std::memory_order_relaxed)) {
    owner->inbox.push_back(p);
    owner->inbox_pending.store(true, std::memory_order_release);
    return;
  }
  b->give_back(p);  // an orphan: its thread is gone
  if (b->live == 0) unmap_block(b);
}

std::size_t handle_pool_mapped_bytes() noexcept { return mapped_bytes.load(std::memory_order_relaxed); }

}  // namespace qaio::detail
