// glib_poll.cpp: GlibPollHook (see glib_poll.h for why a wakeup under glib costs one wait).
#include "glib_poll.h"

#include <dlfcn.h>
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <QAbstractEventDispatcher>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>

#include "../core/selector.h"
#include "qaio/qt/qt_event_loop.h"

namespace qaio::qt::detail {

namespace {
static_assert(sizeof(GlibPollFd) == sizeof(pollfd) && offsetof(GlibPollFd, revents) == offsetof(pollfd, revents),
              "glib's GPollFD is laid out as struct pollfd");

// The tag of the hook's set in the loop's set (Selector::add_driver_fd); the Qt dispatcher's is -1.
constexpr int kGlibTag = -3;

// glib's fd events that epoll can watch (G_IO_IN/PRI/OUT have poll()'s values, which are epoll's).
std::uint32_t watchable(unsigned short events) { return events & (POLLIN | POLLOUT | POLLPRI); }

using PollFunction = int (*)(GlibPollFd*, unsigned int, int);

struct GlibApi {
  void* (*context_default)() = nullptr;
  void* (*context_get_thread_default)() = nullptr;
  void (*set_poll_func)(void*, PollFunction) = nullptr;
  PollFunction (*get_poll_func)(void*) = nullptr;
  bool ok = false;
};

template <typename F>
void look_up(F& function, const char* name) {
  function = reinterpret_cast<F>(::dlsym(RTLD_DEFAULT, name));
}

const GlibApi& glib() {
  static const GlibApi api = [] {
    GlibApi a;
    look_up(a.context_default, "g_main_context_default");
    look_up(a.context_get_thread_default, "g_main_context_get_thread_default");
    look_up(a.set_poll_func, "g_main_context_set_poll_func");
    look_up(a.get_poll_func, "g_main_context_get_poll_func");
    a.ok = a.context_default && a.context_get_thread_default && a.set_poll_func && a.get_poll_func;
    return a;
  }();
  return api;
}

// The hook of this thread's context. A GMainContext is iterated by the thread that owns it, so
// the poll function, which glib calls without a user pointer, finds its hook here.
thread_local GlibPollHook* tls_hook = nullptr;
// glib's poll function before any hook (g_poll): what a thread without a hook gets.
std::atomic<PollFunction> unhooked_poll{nullptr};
}  // namespace

std::unique_ptr<GlibPollHook> GlibPollHook::install(QtEventLoop& loop, int loop_epoll_fd) {
  QAbstractEventDispatcher* dispatcher = QAbstractEventDispatcher::instance();
  if (tls_hook || !dispatcher || !dispatcher->inherits("QEventDispatcherGlib")) return nullptr;
  const GlibApi& api = glib();
  if (!api.ok) return nullptr;
  // Qt's glib dispatcher iterates the default context in the main thread and pushes a context of
  // its own as the thread default in every other thread.
  void* context = api.context_get_thread_default();
  if (!context) context = api.context_default();
  const PollFunc previous = api.get_poll_func(context);
  if (!previous || previous == &GlibPollHook::hooked_poll) return nullptr;
  std::unique_ptr<GlibPollHook> hook(new GlibPollHook(loop, loop_epoll_fd, context, previous));
  if (hook->glib_epfd_ < 0) return nullptr;
  unhooked_poll.store(previous, std::memory_order_relaxed);
  api.set_poll_func(context, &GlibPollHook::hooked_poll);
  tls_hook = hook.get();
  return hook;
}

GlibPollHook::GlibPollHook(QtEventLoop& loop, int loop_epoll_fd, void* context, PollFunc previous)
    : loop_(loop), loop_epfd_(loop_epoll_fd), context_(context), previous_(previous) {
  glib_epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (glib_epfd_ < 0) return;
  try {
    // Busy iterations need not poll it: glib polls its fds itself between dispatches.
    loop_.selector().add_driver_fd(glib_epfd_, kGlibTag, EPOLLIN, /*poll_when_busy=*/false);
  } catch (...) {
    ::close(glib_epfd_);
    glib_epfd_ = -1;
  }
}

GlibPollHook::~GlibPollHook() {
  if (tls_hook == this) {
    tls_hook = nullptr;
    if (glib().get_poll_func(context_) == &GlibPollHook::hooked_poll) glib().set_poll_func(context_, previous_);
  }
  if (glib_epfd_ >= 0) {
    loop_.selector().remove_driver_fd(glib_epfd_);
    ::close(glib_epfd_);
  }
}

int GlibPollHook::hooked_poll(GlibPollFd* fds, unsigned int nfds, int timeout_ms) {
  // Another thread iterating this thread's context (glib lets a context change hands) has no hook:
  // glib's own poll is right for it.
  GlibPollHook* hook = tls_hook;
  return hook ? hook->poll(fds, nfds, timeout_ms) : unhooked_poll.load(std::memory_order_relaxed)(fds, nfds, timeout_ms);
}

void GlibPollHook::forget_all() noexcept {
  for (const Watched& w : watched_) {
    epoll_event ev{};
    ::epoll_ctl(glib_epfd_, EPOLL_CTL_DEL, w.fd, &ev);
  }
  watched_.clear();
}

bool GlibPollHook::sync(const GlibPollFd* fds, unsigned int nfds) {
  // glib lists an fd once per source that polls it; the set watches each fd once, for the union.
  wanted_.clear();
  for (const GlibPollFd* f = fds; f != fds + nfds; ++f) {
    if (f->fd == loop_epfd_ || f->fd < 0) continue;
    const auto at = std::find_if(wanted_.begin(), wanted_.end(), [f](const Watched& w) { return w.fd == f->fd; });
    if (at == wanted_.end()) {
      wanted_.push_back({f->fd, watchable(f->events)});
    } else {
      at->events |= watchable(f->events);
    }
  }
  const auto same = [](const Watched& a, const Watched& b) { return a.fd == b.fd && a.events == b.events; };
  // The list that could not be watched last time (a regular file in it): glib's poll again, without
  // trying every fd once more.
  if (!refused_.empty() && std::equal(wanted_.begin(), wanted_.end(), refused_.begin(), refused_.end(), same))
    return false;
  refused_.clear();
  if (std::equal(wanted_.begin(), wanted_.end(), watched_.begin(), watched_.end(), same)) {
    // The same fds as last time. Re-adding each tells whether its number still names the file
    // the set watches (EEXIST), or was closed and reused, which ADD then registers (glib_poll.h).
    for (const Watched& w : watched_) {
      epoll_event ev{};
      ev.events = w.events;
      ev.data.fd = w.fd;
      if (::epoll_ctl(glib_epfd_, EPOLL_CTL_ADD, w.fd, &ev) < 0 && errno != EEXIST) return false;
    }
    return true;
  }
  forget_all();
  for (const Watched& w : wanted_) {
    epoll_event ev{};
    ev.events = w.events;
    ev.data.fd = w.fd;
    if (::epoll_ctl(glib_epfd_, EPOLL_CTL_ADD, w.fd, &ev) < 0) {  // EPERM: a regular file
      refused_ = wanted_;
      return false;
    }
    watched_.push_back(w);
  }
  return true;
}

int GlibPollHook::poll(GlibPollFd* fds, unsigned int nfds, int timeout_ms) {
  GlibPollFd* const end = fds + nfds;
  GlibPollFd* const own = std::find_if(fds, end, [this](const GlibPollFd& f) { return f.fd == loop_epfd_; });
  // The loop's notifier is off (a deferred loop), or an fd epoll cannot watch: glib's own poll.
  if (own == end || !sync(fds, nfds)) {
    forget_all();
    return previous_(fds, nfds, timeout_ms);
  }
  bool glib_ready = false;
  const int loop_events = loop_.selector().wait_and_keep(timeout_ms, kGlibTag, glib_ready);
  if (loop_events < 0) return -1;  // errno is epoll_wait's (EINTR: glib polls again)
  int ready = 0;
  if (glib_ready) {
    // Which of glib's fds: poll() them, the loop's hidden behind a negative fd (poll() skips it).
    own->fd = -1;
    ready = ::poll(reinterpret_cast<pollfd*>(fds), nfds, 0);
    own->fd = loop_epfd_;
    if (ready < 0) return -1;
  } else {
    for (GlibPollFd* f = fds; f != end; ++f) f->revents = 0;
  }
  own->revents = 0;
  if (loop_events > 0) {
    own->revents = POLLIN;
    ++ready;
  }
  return ready;
}

}  // namespace qaio::qt::detail
