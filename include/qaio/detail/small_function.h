// qaio/detail/small_function.h: a move-only type-erased callable with inline storage.
//
// Handles and done-callbacks store their callables here. Captures up to `Inline` bytes live inside
// the object, so scheduling a typical lambda does not allocate (DESIGN rule 12). The stored type's
// name is kept for the loop's messages ("Exception in callback <name>"); a callable may offer a
// `describe()` member returning a std::string to name itself better.
#pragma once

#include <cstddef>
#include <new>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace qaio::detail {

std::string demangle_type_name(const std::type_info& type);

// A readable name of a callable for the loop's messages: its describe() if it has one, else its
// demangled type.
template <class D>
std::string describe_callable(const D& d) {
  if constexpr (requires { { d.describe() } -> std::convertible_to<std::string>; }) {
    return d.describe();
  } else {
    return demangle_type_name(typeid(D));
  }
}

template <class Signature, std::size_t Inline = 48>
class SmallFunction;

template <class R, class... Args, std::size_t Inline>
class SmallFunction<R(Args...), Inline> {
 public:
  SmallFunction() noexcept = default;
  SmallFunction(std::nullptr_t) noexcept {}

  template <class F, class D = std::decay_t<F>,
            class = std::enable_if_t<!std::is_same_v<D, SmallFunction> && std::is_invocable_r_v<R, D&, Args...>>>
  SmallFunction(F&& f) {  // NOLINT(google-explicit-constructor): callables convert like std::function
    if constexpr (fits_inline<D>) {
      ::new (static_cast<void*>(storage_)) D(std::forward<F>(f));
      ops_ = &inline_ops<D>;
    } else {
      *reinterpret_cast<D**>(storage_) = new D(std::forward<F>(f));
      ops_ = &heap_ops<D>;
    }
  }

  SmallFunction(SmallFunction&& other) noexcept { take(other); }
  SmallFunction& operator=(SmallFunction&& other) noexcept {
    if (this != &other) {
      reset();
      take(other);
    }
    return *this;
  }
  SmallFunction(const SmallFunction&) = delete;
  SmallFunction& operator=(const SmallFunction&) = delete;
  ~SmallFunction() { reset(); }

  explicit operator bool() const noexcept { return ops_ != nullptr; }

  R operator()(Args... args) { return ops_->invoke(storage_, std::forward<Args>(args)...); }

  void reset() noexcept {
    if (ops_) {
      const Ops* ops = ops_;
      ops_ = nullptr;
      ops->destroy(storage_);
    }
  }

  // A readable name of the stored callable (for logs); "None" when empty.
  std::string describe() const { return ops_ ? ops_->describe(storage_) : std::string("None"); }

 private:
  struct Ops {
    R (*invoke)(void*, Args&&...);
    void (*destroy)(void*) noexcept;
    void (*move)(void* dst, void* src) noexcept;  // move-constructs into dst and destroys src
    std::string (*describe)(const void*);
  };

  // Pointer alignment, not max_align_t: 16-byte alignment would pad every HandleState and
  // done-callback by 8 bytes for the rare callable that needs it (those go to the heap instead).
  static constexpr std::size_t kAlign = alignof(void*);
  template <class D>
  static constexpr bool fits_inline =
      sizeof(D) <= Inline && alignof(D) <= kAlign && std::is_nothrow_move_constructible_v<D>;

  template <class D>
  static constexpr Ops inline_ops = {
      [](void* p, Args&&... args) -> R { return (*static_cast<D*>(p))(std::forward<Args>(args)...); },
      [](void* p) noexcept { static_cast<D*>(p)->~D(); },
      [](void* dst, void* src) noexcept {
        ::new (dst) D(std::move(*static_cast<D*>(src)));
        static_cast<D*>(src)->~D();
      },
      [](const void* p) { return describe_callable(*static_cast<const D*>(p)); },
  };

  template <class D>
  static constexpr Ops heap_ops = {
      [](void* p, Args&&... args) -> R { return (**static_cast<D**>(p))(std::forward<Args>(args)...); },
      [](void* p) noexcept { delete *static_cast<D**>(p); },
      [](void* dst, void* src) noexcept { *static_cast<D**>(dst) = *static_cast<D**>(src); },
      [](const void* p) { return describe_callable(**static_cast<D* const*>(p)); },
  };

  void take(SmallFunction& other) noexcept {
    if (other.ops_) {
      other.ops_->move(storage_, other.storage_);
      ops_ = other.ops_;
      other.ops_ = nullptr;
    }
  }

  alignas(kAlign) unsigned char storage_[Inline];
  const Ops* ops_ = nullptr;
};

}  // namespace qaio::detail
