// qaio/detail/state_ref.h (internal): Ref<T> and WeakRef<T>, the reference-counted pointers that
// Future, Task and AnyTask use to share a future's or task's state.
//
// They behave like std::shared_ptr and std::weak_ptr (thread-safe counts; the object is destroyed
// with the last Ref, its memory freed with the last WeakRef), but the two counts are an 8-byte
// header just in front of the object instead of a 16-byte control block, and a Ref can be made
// from the object itself (ref_to) without std::enable_shared_from_this's 16-byte weak pointer and
// its compare-and-swap. A task state is created, stepped, awaited and destroyed a million times
// in W3 (issue 8): 48 fewer bytes (with the task's self-reference, now one bit) and three fewer
// atomic operations per task.
//
// Objects are created only by make_ref<T>(...), and T must derive from RefCounted as the
// subobject at offset 0 (true for every future and task state, whose first base is FutureBase).
#pragma once

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

#include "qaio/detail/slab_pool.h"

namespace qaio::detail {

// The header in front of every RefCounted object. `weak` counts the WeakRefs, plus one for all
// the Refs together while any is left.
struct RefCounts {
  std::atomic<std::uint32_t> strong{1};
  std::atomic<std::uint32_t> weak{1};
};

// Memory for a RefCounted object of `size` bytes aligned to `align` (at most 16): the object's
// address, with fresh counts in front of it. From the slab pool, whose slots for sizes rounded to
// 16 are 16-byte aligned: the object starts at 8, or, for a 16-byte aligned object, at 16 (which is
// how ref_free tells the two apart), and the counts take the 8 bytes just in front of it.
inline void* ref_allocate(std::size_t size, std::size_t align) {
  const std::size_t offset = align <= 8 ? 8 : 16;
  char* slot = static_cast<char*>(slab_allocate(slab_frame_size(size + offset)));
  ::new (static_cast<void*>(slot + offset - sizeof(RefCounts))) RefCounts();
  return slot + offset;
}
// Gives back what ref_allocate made for an object of `size` bytes (after its destructor ran).
inline void ref_free(void* object, std::size_t size) noexcept {
  const std::size_t offset = (reinterpret_cast<std::uintptr_t>(object) & 15) == 8 ? 8 : 16;
  slab_free(static_cast<char*>(object) - offset, slab_frame_size(size + offset));
}

// The base of everything a Ref points to. It has no data: the counts are in front of it.
class RefCounted {
 public:
  RefCounts& ref_counts() const noexcept {
    return *reinterpret_cast<RefCounts*>(reinterpret_cast<char*>(const_cast<RefCounted*>(this)) - sizeof(RefCounts));
  }

  // `delete` (from the last Ref, through the virtual destructor, so `size` is the dynamic type's)
  // frees the memory, unless WeakRefs are left: then the last of them does.
  static void operator delete(void* object, std::size_t size) noexcept {
    RefCounts& counts = *reinterpret_cast<RefCounts*>(static_cast<char*>(object) - sizeof(RefCounts));
    if (counts.weak.load(std::memory_order_acquire) != 1) {
      // The object is gone; its storage keeps the size for the last WeakRef.
      std::memcpy(object, &size, sizeof size);
      if (counts.weak.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    }
    ref_free(object, size);
  }
  // Only make_ref allocates (it knows the alignment, which the header's place depends on).
  static void* operator new(std::size_t) = delete;
  static void* operator new(std::size_t, std::align_val_t) = delete;

 protected:
  RefCounted() noexcept = default;
  ~RefCounted() = default;
};

template <class T>
class WeakRef;

template <class T>
class Ref {
 public:
  using element_type = T;

  Ref() noexcept = default;
  Ref(std::nullptr_t) noexcept {}
  Ref(const Ref& other) noexcept : p_(other.p_) { acquire(); }
  Ref(Ref&& other) noexcept : p_(std::exchange(other.p_, nullptr)) {}
  template <class U>
    requires std::is_convertible_v<U*, T*>
  Ref(const Ref<U>& other) noexcept : p_(other.get()) {
    acquire();
  }
  template <class U>
    requires std::is_convertible_v<U*, T*>
  Ref(Ref<U>&& other) noexcept : p_(other.detach()) {}
  ~Ref() { release(); }

  Ref& operator=(Ref other) noexcept {
    std::swap(p_, other.p_);
    return *this;
  }

  // A new reference to `object`, which a Ref owns already (asyncio's `self`).
  static Ref share(T& object) noexcept { return Ref(&object, true); }
  // Takes over a reference counted already (detach()'s, or a keep-alive's).
  static Ref adopt(T* object) noexcept { return Ref(object, false); }
  // Gives up ownership without releasing: the caller now holds this reference.
  T* detach() noexcept { return std::exchange(p_, nullptr); }

  void reset() noexcept { Ref().swap(*this); }
  void swap(Ref& other) noexcept { std::swap(p_, other.p_); }

  T* get() const noexcept { return p_; }
  T& operator*() const noexcept { return *p_; }
  T* operator->() const noexcept { return p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  long use_count() const noexcept { return p_ ? static_cast<long>(counts().strong.load(std::memory_order_relaxed)) : 0; }

  template <class U>
  friend bool operator==(const Ref& a, const Ref<U>& b) noexcept {
    return a.get() == b.get();
  }
  friend bool operator==(const Ref& a, std::nullptr_t) noexcept { return a.p_ == nullptr; }

 private:
  template <class U>
  friend class WeakRef;

  Ref(T* object, bool add) noexcept : p_(object) {
    if (add) acquire();
  }
  RefCounts& counts() const noexcept { return static_cast<const RefCounted*>(p_)->ref_counts(); }
  void acquire() const noexcept {
    if (p_) counts().strong.fetch_add(1, std::memory_order_relaxed);
  }
  void release() noexcept {
    if (p_ && counts().strong.fetch_sub(1, std::memory_order_acq_rel) == 1) delete p_;
  }

  T* p_ = nullptr;
};

// A reference that does not keep the object alive: lock() gives a Ref while it lives, else null.
template <class T>
class WeakRef {
 public:
  WeakRef() noexcept = default;
  template <class U>
    requires std::is_convertible_v<U*, T*>
  WeakRef(const Ref<U>& strong) noexcept : p_(strong.get()) {
    if (p_) counts().weak.fetch_add(1, std::memory_order_relaxed);
  }
  WeakRef(const WeakRef& other) noexcept : p_(other.p_) {
    if (p_) counts().weak.fetch_add(1, std::memory_order_relaxed);
  }
  WeakRef(WeakRef&& other) noexcept : p_(std::exchange(other.p_, nullptr)) {}
  ~WeakRef() { release(); }
  WeakRef& operator=(WeakRef other) noexcept {
    std::swap(p_, other.p_);
    return *this;
  }

  Ref<T> lock() const noexcept {
    if (!p_) return {};
    std::uint32_t strong = counts().strong.load(std::memory_order_relaxed);
    while (strong != 0) {
      if (counts().strong.compare_exchange_weak(strong, strong + 1, std::memory_order_acq_rel,
                                                std::memory_order_relaxed))
        return Ref<T>::adopt(p_);
    }
    return {};
  }
  bool expired() const noexcept { return !p_ || counts().strong.load(std::memory_order_acquire) == 0; }

 private:
  // Valid while this reference exists, even after the object died: the counts outlive it.
  RefCounts& counts() const noexcept { return static_cast<const RefCounted*>(p_)->ref_counts(); }
  void release() noexcept {
    if (!p_ || counts().weak.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    // The object is gone (its last Ref stored its size in the storage): free the memory.
    void* object = const_cast<RefCounted*>(static_cast<const RefCounted*>(p_));
    std::size_t size;
    std::memcpy(&size, object, sizeof size);
    ref_free(object, size);
  }

  T* p_ = nullptr;
};

template <class T, class... Args>
Ref<T> make_ref(Args&&... args) {
  static_assert(std::is_base_of_v<RefCounted, T>, "make_ref makes RefCounted objects");
  static_assert(alignof(T) <= 16, "a future's value may be aligned to at most 16 bytes");
  void* memory = ref_allocate(sizeof(T), alignof(T));
  T* object;
  try {
    object = ::new (memory) T(std::forward<Args>(args)...);
  } catch (...) {
    ref_free(memory, sizeof(T));
    throw;
  }
  // The counts are found from the RefCounted subobject: it must start where the object does.
  assert(static_cast<void*>(static_cast<RefCounted*>(object)) == memory);
  return Ref<T>::adopt(object);
}

template <class T, class U>
Ref<T> static_ref_cast(Ref<U> ref) noexcept {
  return Ref<T>::adopt(static_cast<T*>(ref.detach()));
}

// A new Ref to `object`, which a Ref owns already: make_ref's objects only.
template <class T>
Ref<T> ref_to(T& object) noexcept {
  return Ref<T>::share(object);
}

}  // namespace qaio::detail
