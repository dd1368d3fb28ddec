// state_ref_test.cpp: Ref and WeakRef, the reference-counted pointers of future and task states
// (include/qaio/detail/state_ref.h). They must keep shared_ptr's promises with a header of their
// own: the object dies with its last Ref and not before, a WeakRef outliving it still answers
// (and frees the memory last), a 16-byte aligned value stays aligned, and counts changed on many
// threads at once stay exact.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "qaio/detail/state_ref.h"
#include "qaio/qaio.h"

namespace {

using qaio::detail::make_ref;
using qaio::detail::Ref;
using qaio::detail::ref_to;
using qaio::detail::RefCounted;
using qaio::detail::static_ref_cast;
using qaio::detail::WeakRef;

struct Base : RefCounted {
  explicit Base(int* alive) : alive_(alive) { ++*alive_; }
  virtual ~Base() { --*alive_; }
  int* alive_;
};

struct Derived final : Base {
  Derived(int* alive, int v) : Base(alive), value(v) {}
  int value;
  char padding[40] = {};
};

struct alignas(16) Aligned final : RefCounted {
  long double x = 1.5L;
  virtual ~Aligned() = default;
};

struct Throws final : RefCounted {
  Throws() { throw std::runtime_error("constructor failed"); }
  virtual ~Throws() = default;
};

}  // namespace

TEST(StateRef, TheObjectDiesWithItsLastRefAndNotBefore) {
  int alive = 0;
  Ref<Derived> a = make_ref<Derived>(&alive, 7);
  EXPECT_EQ(alive, 1);
  EXPECT_EQ(a.use_count(), 1);
  Ref<Base> b = a;  // converted, shared
  Ref<Base> c = ref_to(static_cast<Base&>(*a));
  EXPECT_EQ(a.use_count(), 3);
  a.reset();
  b.reset();
  EXPECT_EQ(alive, 1);
  Ref<Derived> d = static_ref_cast<Derived>(std::move(c));
  EXPECT_EQ(c, nullptr);
  EXPECT_EQ(d->value, 7);
  EXPECT_EQ(d.use_count(), 1);
  d.reset();
  EXPECT_EQ(alive, 0);
}

TEST(StateRef, AWeakRefOutlivesItsObjectAndLocksToNull) {
  int alive = 0;
  WeakRef<Base> weak;
  {
    Ref<Derived> strong = make_ref<Derived>(&alive, 1);
    weak = WeakRef<Base>(strong);
    WeakRef<Base> copy = weak;
    Ref<Base> locked = copy.lock();
    ASSERT_TRUE(locked);
    EXPECT_EQ(strong.use_count(), 2);
    EXPECT_FALSE(weak.expired());
  }
  // The object is gone at once (its destructor ran), though the weak reference keeps the memory.
  EXPECT_EQ(alive, 0);
  EXPECT_TRUE(weak.expired());
  EXPECT_FALSE(weak.lock());
  weak = WeakRef<Base>();  // frees the memory (AddressSanitizer checks it is freed exactly once)
}

TEST(StateRef, SixteenByteAlignedObjectsStayAligned) {
  std::vector<Ref<Aligned>> refs;
  for (int i = 0; i < 100; ++i) refs.push_back(make_ref<Aligned>());
  for (const auto& r : refs) {
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(r.get()) % 16, 0u);
    EXPECT_EQ(r->x, 1.5L);
  }
  WeakRef<Aligned> weak(refs.front());
  refs.clear();
  EXPECT_TRUE(weak.expired());
}

TEST(StateRef, AThrowingConstructorLeaksNothing) {
  EXPECT_THROW(make_ref<Throws>(), std::runtime_error);
}

TEST(StateRef, CountsStayExactUnderConcurrentCopies) {
  int alive = 0;
  Ref<Derived> shared = make_ref<Derived>(&alive, 3);
  WeakRef<Derived> weak(shared);
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (!go.load()) {
      }
      for (int i = 0; i < 100'000; ++i) {
        Ref<Derived> copy = shared;
        Ref<Derived> locked = weak.lock();
        WeakRef<Derived> w2 = weak;
        ASSERT_EQ(locked->value, 3);
      }
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(shared.use_count(), 1);
  EXPECT_EQ(alive, 1);
  shared.reset();
  EXPECT_EQ(alive, 0);
  EXPECT_FALSE(weak.lock());
}

TEST(StateRef, AFutureOfASixteenByteAlignedValueKeepsItAligned) {
  qaio::SelectorEventLoop loop;
  qaio::Future<long double> f = loop.create_future<long double>();
  f.set_result(2.25L);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&f.result()) % 16, 0u);
  EXPECT_EQ(f.result(), 2.25L);
  loop.close();
}

TEST(StateRef, ATaskStateIsSmall) {
  // 40 bytes less than a shared_ptr's control block plus enable_shared_from_this plus a
  // keep-alive Ref: the W3 benchmark makes a million of them (issue 8).
  EXPECT_LE(sizeof(qaio::detail::TaskState<std::uint64_t>), 136u);
}
