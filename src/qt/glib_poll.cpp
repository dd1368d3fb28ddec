// glib_poll.cpp: GlibPollHook (see glib_poll.h for why a wakeup under glib costs one wait).
#include "glib_poll.h"

#include <dlfcn.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <QAbstractEventDispatcher>
#include <QCoreApplication>
#include <QThread>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstddef>

#include "../core/selector.h"
#include "driver.h"
#include "qaio/qt/qt_event_loop.h"
#include "vector_state.h"

namespace qaio::qt::detail {

namespace {
static_assert(sizeof(GlibPollFd) == sizeof(pollfd) && offsetof(GlibPollFd, revents) == offsetof(pollfd, revents),
              "glib's GPollFD is laid out as struct pollfd");

// The tag of the hook's set in the loop's set (Selector::add_driver_fd); the Qt dispatcher's is -1.
constexpr int kGlibTag = -3;
// The tag of the linger's timerfd.
constexpr int kLingerTag = -4;

// glib's fd events that epoll can watch (G_IO_IN/PRI/OUT have poll()'s values, which are epoll's).
std::uint32_t watchable(unsigned short events) { return events & (POLLIN | POLLOUT | POLLPRI); }

// Whether an fd may go into the nested set: a socket, a pipe or an anonymous-inode fd (eventfd,
// timerfd, signalfd, inotify). Their poll() has no side effect, and the nesting polls an fd twice
// per wakeup (once for the outer set, once for glib's revents). Some other files clear their
// readiness when polled (/proc/self/mounts), and regular files cannot be watched by epoll at all.
bool nestable(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) < 0) return false;
  const auto type = st.st_mode & S_IFMT;
  return type == S_IFSOCK || type == S_IFIFO || type == 0;
}

using PollFunction = int (*)(GlibPollFd*, unsigned int, int);

struct GlibApi {
  void* (*context_default)() = nullptr;
  void* (*context_get_thread_default)() = nullptr;
  void* (*context_ref)(void*) = nullptr;
  void (*context_unref)(void*) = nullptr;
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
    look_up(a.context_ref, "g_main_context_ref");
    look_up(a.context_unref, "g_main_context_unref");
    look_up(a.set_poll_func, "g_main_context_set_poll_func");
    look_up(a.get_poll_func, "g_main_context_get_poll_func");
    a.ok = a.context_default && a.context_get_thread_default && a.context_ref && a.context_unref &&
           a.set_poll_func && a.get_poll_func;
    return a;
  }();
  return api;
}

// The hook of this thread's context. A GMainContext is iterated by the thread that owns it, so
// the poll function, which glib calls without a user pointer, finds its hook here.
thread_local GlibPollHook* tls_hook = nullptr;
// The poll function the latest install replaced (glib's g_poll unless something else had set
// one): what a thread iterating a hooked context without a hook of its own gets.
std::atomic<PollFunction> unhooked_poll{nullptr};
}  // namespace

std::unique_ptr<GlibPollHook> GlibPollHook::install(QtEventLoop& loop, int loop_epoll_fd) {
  QAbstractEventDispatcher* dispatcher = QAbstractEventDispatcher::instance();
  if (tls_hook || !dispatcher || !dispatcher->inherits("QEventDispatcherGlib")) return nullptr;
  const GlibApi& api = glib();
  if (!api.ok) return nullptr;
  // Qt's glib dispatcher iterates the default context in the main thread (whatever a library may
  // have pushed as the thread default since) and pushes a context of its own as the thread
  // default in every other thread.
  const QCoreApplication* app = QCoreApplication::instance();
  const bool main_thread = app && QThread::currentThread() == app->thread();
  void* context = main_thread ? nullptr : api.context_get_thread_default();
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
    : loop_(loop), loop_epfd_(loop_epoll_fd), context_(glib().context_ref(context)), previous_(previous) {
  // A reference: a worker thread's context goes with Qt's dispatcher, which may die before the loop.
  new_set();
}

GlibPollHook::~GlibPollHook() {
  if (tls_hook == this) {
    tls_hook = nullptr;
    if (glib().get_poll_func(context_) == &GlibPollHook::hooked_poll) glib().set_poll_func(context_, previous_);
  }
  close_set();
  if (linger_fd_ >= 0) {
    loop_.selector().remove_driver_fd(linger_fd_);
    ::close(linger_fd_);
  }
  glib().context_unref(context_);
}

void GlibPollHook::new_set() {
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

void GlibPollHook::close_set() noexcept {
  if (glib_epfd_ >= 0) {
    loop_.selector().remove_driver_fd(glib_epfd_);
    ::close(glib_epfd_);
    glib_epfd_ = -1;
  }
  watched_.clear();
}

void GlibPollHook::renew_set() {
  // A new set rather than EPOLL_CTL_DEL fd by fd: epoll keys a registration by file and number,
  // and one whose number was closed while its file lives on (a dup, a child's copy) can no longer
  // be removed by number. Left behind, a ready one would keep the set ready and glib spinning.
  close_set();
  new_set();
}

int GlibPollHook::hooked_poll(GlibPollFd* fds, unsigned int nfds, int timeout_ms) {
  // A thread iterating a hooked context it does not own (glib lets a context change hands) gets
  // glib's own poll: it has no hook, or its hook's loop fd is not in this context's list, and
  // poll() then passes the list on to the poll function it replaced.
  GlibPollHook* hook = tls_hook;
  return hook ? hook->poll(fds, nfds, timeout_ms) : unhooked_poll.load(std::memory_order_relaxed)(fds, nfds, timeout_ms);
}

bool GlibPollHook::sync(const GlibPollFd* fds, unsigned int nfds) {
  if (nest(fds, nfds)) return true;
  // glib's own poll for this list. The set leaves the loop's set meanwhile: an fd glib no longer
  // lists but the set still holds (a notifier switched off with data unread) would keep the
  // loop's fd ready, and glib's poll would return at once, again and again.
  close_set();
  return false;
}

bool GlibPollHook::nest(const GlibPollFd* fds, unsigned int nfds) {
  // glib lists an fd once per source that polls it; the set watches each fd once, for the union.
  wanted_.clear();
  for (const GlibPollFd* f = fds; f != fds + nfds; ++f) {
    if (f->fd == loop_epfd_ || f->fd < 0) continue;
    const auto at = std::find_if(wanted_.begin(), wanted_.end(), [f](const Watched& w) { return w.fd == f->fd; });
    if (at == wanted_.end()) {
      if (wanted_.size() == kMaxGlibFds) return false;  // a long list: one poll() beats the bookkeeping
      wanted_.push_back({f->fd, watchable(f->events)});
    } else {
      at->events |= watchable(f->events);
    }
  }
  const auto same = [](const Watched& a, const Watched& b) { return a.fd == b.fd && a.events == b.events; };
  // The list that could not be nested last time: glib's poll again, without trying each fd again.
  if (!refused_.empty() && std::equal(wanted_.begin(), wanted_.end(), refused_.begin(), refused_.end(), same))
    return false;
  refused_.clear();
  if (glib_epfd_ >= 0 && std::equal(wanted_.begin(), wanted_.end(), watched_.begin(), watched_.end(), same)) {
    // The same fds as last time. If glib has not reported one of them ready since the last check,
    // its list has not changed since then either: every change signals glib's wakeup fd, which is
    // in the set and stays ready until glib sees it (see the top of glib_poll.h).
    if (!check_next_) return true;
    // EPOLL_CTL_MOD finds a registration by the file the number names today: success means the
    // set still watches it; ENOENT means the number was closed and reused since, and the set is
    // built again for today's files.
    bool reused = false;
    for (const Watched& w : watched_) {
      epoll_event ev{};
      ev.events = w.events;
      ev.data.fd = w.fd;
      if (::epoll_ctl(glib_epfd_, EPOLL_CTL_MOD, w.fd, &ev) == 0) continue;
      if (errno != ENOENT) return false;  // EBADF: closed and not reused; glib's poll reports it
      reused = true;
      break;
    }
    if (!reused) {
      check_next_ = false;
      return true;
    }
  }
  renew_set();
  if (glib_epfd_ < 0) return false;
  for (const Watched& w : wanted_) {
    epoll_event ev{};
    ev.events = w.events;
    ev.data.fd = w.fd;
    if (!nestable(w.fd) || ::epoll_ctl(glib_epfd_, EPOLL_CTL_ADD, w.fd, &ev) < 0) {
      // Not for epoll (a regular file, a /proc file, EPERM): glib's poll while the list lasts.
      // Other failures (EBADF from a notifier removed one iteration late) are not remembered.
      if (!nestable(w.fd) || errno == EPERM) refused_ = wanted_;
      watched_.clear();
      return false;
    }
    watched_.push_back(w);
  }
  check_next_ = false;  // made for today's files
  return true;
}

bool GlibPollHook::glib_fired() noexcept { return loop_.selector().take_tag_seen(kGlibTag); }

void GlibPollHook::stop_linger() noexcept { linger_until_ = -INFINITY; }

bool GlibPollHook::arm_linger_alarm(double seconds) noexcept {
  if (linger_fd_ < 0) {
    const int fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0) return false;
    try {
      loop_.selector().add_driver_fd(fd, kLingerTag, EPOLLIN, /*poll_when_busy=*/false);
    } catch (...) {
      ::close(fd);
      return false;
    }
    linger_fd_ = fd;
  }
  itimerspec spec{};
  // A day at most (a slice may be set to infinity): the dispatch re-arms it if it lasts longer.
  const auto ns = static_cast<long long>(std::ceil(std::min(seconds, 86400.0) * 1e9));
  spec.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
  spec.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
  if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;  // 0 disarms
  return ::timerfd_settime(linger_fd_, 0, &spec, nullptr) == 0;
}

bool GlibPollHook::linger_alarm_rang() noexcept { return loop_.selector().take_tag_seen(kLingerTag); }

void GlibPollHook::disarm_linger_alarm() noexcept {
  if (linger_fd_ < 0) return;
  const itimerspec off{};
  itimerspec was{};
  ::timerfd_settime(linger_fd_, 0, &off, &was);
  if (was.it_value.tv_sec == 0 && was.it_value.tv_nsec == 0) {
    // It had rung: the ring keeps the timerfd readable until read.
    std::uint64_t expirations = 0;
    (void)::read(linger_fd_, &expirations, sizeof expirations);
  }
  loop_.selector().take_tag_seen(kLingerTag);
}

int GlibPollHook::poll(GlibPollFd* fds, unsigned int nfds, int timeout_ms) {
  clear_dirty_upper_state();  // glib's and Qt's code may have left it dirty (vector_state.h)
  // The first call shows the hook is on the context Qt iterates: the loop can stop listening to
  // Qt's signals.
  if (polls_++ == 0 && loop_.driver_) loop_.driver_->drop_iteration_signals();
  linger_until_ = -INFINITY;
  // glib polls inside a dispatch of the loop: a callback spins a nested Qt loop, and the loop
  // hands its pending work to its timer (QtEventLoop::on_qt_iteration). glib computed this wait's
  // timeout before the timer changed, so a wait must end by the timer's new deadline: the next
  // iteration's prepare then sees the timer.
  if (loop_.dispatch_depth_ > 0) {
    const bool was_active = loop_.timer_active_;
    const double was_deadline = loop_.armed_deadline_;
    loop_.on_qt_iteration();
    if (loop_.timer_active_ && (!was_active || loop_.armed_deadline_ != was_deadline)) {
      const int until_timer = QtEventLoop::whole_ms(loop_.armed_deadline_ - loop_.time());
      if (timeout_ms < 0 || until_timer < timeout_ms) timeout_ms = until_timer;
    }
  }
  qaio::detail::Selector& selector = loop_.selector();
  // What an earlier wait kept and no dispatch used is stale by now.
  selector.drop_kept();
  GlibPollFd* const end = fds + nfds;
  GlibPollFd* const own = std::find_if(fds, end, [this](const GlibPollFd& f) { return f.fd == loop_epfd_; });
  // The loop's notifier is off (a deferred loop), or glib's list cannot be nested: glib's own poll.
  if (own == end || !sync(fds, nfds)) {
    check_next_ = true;  // glib's poll sees its fds change; the set does not
    return previous_(fds, nfds, timeout_ms);
  }
  // glib's timeout runs from now: a dispatch that lingers must be back in glib by its end.
  const double entered = loop_.linger_ > 0 && timeout_ms >= 0 ? loop_.time() : 0.0;
  selector.take_tag_seen(kGlibTag);  // forget what earlier polls saw
  const int loop_events = selector.wait_and_keep(timeout_ms);
  if (loop_events < 0) return -1;  // errno is epoll_wait's (EINTR: glib polls again)
  const bool glib_ready = selector.take_tag_seen(kGlibTag);
  int ready = 0;
  if (glib_ready) {
    check_next_ = true;  // maybe glib's wakeup, maybe a change to its list (see sync())
    // Which of glib's fds: poll() them, the loop's hidden behind a negative fd (poll() skips it).
    own->fd = -1;
    ready = ::poll(reinterpret_cast<pollfd*>(fds), nfds, 0);
    own->fd = loop_epfd_;
    if (ready < 0) return -1;
    // The set said ready and none is: it may hold a registration of a file that lives on under
    // no number glib polls (see renew_set). Start afresh rather than wake up for it again.
    if (ready == 0) renew_set();
  } else {
    for (GlibPollFd* f = fds; f != end; ++f) f->revents = 0;
    if (loop_.linger_ > 0) linger_until_ = timeout_ms < 0 ? INFINITY : entered + timeout_ms / 1000.0;
  }
  own->revents = 0;
  if (loop_events > 0) {
    own->revents = POLLIN;
    ++ready;
  }
  return ready;
}

}  // namespace qaio::qt::detail
