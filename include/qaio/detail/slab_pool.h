// qaio/detail/slab_pool.h (internal): the per-thread slab pool behind the objects the loop makes by
// the million: HandleStates, coroutine frames, and the shared states of futures and tasks.
//
// slab_allocate(size) hands out a slot of the thread's pool for `size`, in 8-byte size classes up
// to kSlabMaxSize; larger requests (and every request in AddressSanitizer builds, so that a
// use-after-free stays visible) go to operator new. slab_free(p, size) must be given the same size.
// A slot may be freed on any thread: it goes back to the pool of the thread that made it.
// src/core/slab_pool.cpp explains the layout and why glibc's malloc is not good enough here.
#pragma once

#include <cstddef>

namespace qaio::detail {

inline constexpr std::size_t kSlabMaxSize = 512;

void* slab_allocate(std::size_t size);
void slab_free(void* p, std::size_t size) noexcept;

// A fresh 2 MiB mapping aligned to 2 MiB (huge: asks for a transparent huge page), or nullptr.
// The slab pool's blocks and the ready queue's big segments; give it back with munmap.
void* map_aligned_2mib(bool huge) noexcept;

// False in AddressSanitizer builds, where every slot comes from operator new.
bool slab_pool_enabled() noexcept;
// Bytes currently mapped by the pools of all threads (tests, memory benchmarks).
std::size_t slab_mapped_bytes() noexcept;
// Bytes in slots handed out by this thread's pools and not yet freed (memory benchmarks).
std::size_t slab_live_bytes_this_thread() noexcept;

// Coroutine frames must be aligned like operator new's memory (16 bytes): their sizes are rounded
// up to a multiple of 16, which keeps every slot of those classes 16-byte aligned.
constexpr std::size_t slab_frame_size(std::size_t size) noexcept { return (size + 15) & ~std::size_t{15}; }

}  // namespace qaio::detail
