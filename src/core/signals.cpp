// signals.cpp: loop.add_signal_handler / remove_signal_handler on a signalfd, the internal signal
// watches (SIGCHLD child watcher) and qaio::run's SIGINT guard. See signals.h for the design.
//
// Process-wide tables (which loop and thread own which signal) are guarded by one mutex; the only
// thing the async-signal handler reads is an array of atomics holding the owning thread's tid.
#include "qaio/signals.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

namespace qaio {

namespace {

pid_t current_tid() noexcept { return static_cast<pid_t>(::syscall(SYS_gettid)); }

// The thread that reads each signal from its signalfd (0: nobody). Read by the signal handler.
std::array<std::atomic<pid_t>, NSIG> g_owner_tid{};

// The forwarding disposition: a signal delivered to a thread that does not block it is re-sent to
// the owning loop's thread, where it is blocked and therefore queued for the signalfd. Only raw
// syscalls here: they are async-signal-safe.
extern "C" void forward_signal(int sig) {
  const int saved_errno = errno;
  const pid_t tid = g_owner_tid[static_cast<std::size_t>(sig)].load(std::memory_order_relaxed);
  if (tid > 0 && tid != static_cast<pid_t>(::syscall(SYS_gettid)))
    ::syscall(SYS_tgkill, static_cast<pid_t>(::syscall(SYS_getpid)), tid, sig);
  errno = saved_errno;
}

struct SignalEntry {
  std::shared_ptr<detail::Callback> user;   // add_signal_handler's callback
  std::function<void()> internal;           // qaio's own watch (SIGCHLD)
  struct sigaction previous {};             // disposition before we installed ours
  bool was_blocked = false;                 // mask bit before we blocked it
};

struct LoopSignals {
  int sfd = -1;
  pid_t tid = 0;  // the thread whose mask blocks the signals
  sigset_t mask{};
  std::map<int, SignalEntry> entries;
};

std::mutex g_mutex;
std::map<const EventLoop*, LoopSignals>& g_loops() {
  static auto* loops = new std::map<const EventLoop*, LoopSignals>();  // used until exit
  return *loops;
}
std::array<const EventLoop*, NSIG> g_owner_loop{};

void check_signal(int sig) {
  if (!is_valid_signal(sig)) throw std::invalid_argument("invalid signal number " + std::to_string(sig));
}

// The handle scheduled for each arrival; its describe() names the user's callback in error reports.
struct SignalCall {
  std::shared_ptr<detail::Callback> cb;
  void operator()() { (*cb)(); }
  std::string describe() const { return cb->describe(); }
};

void read_signalfd(EventLoop* loop);

// Installs our disposition for sig on `loop` (caller holds g_mutex; entry is new).
void install(EventLoop& loop, LoopSignals& ls, int sig, SignalEntry& entry) {
  if (g_owner_loop[static_cast<std::size_t>(sig)] && g_owner_loop[static_cast<std::size_t>(sig)] != &loop)
    throw RuntimeError("sig " + std::to_string(sig) + " is already handled by another event loop");
  const pid_t tid = current_tid();
  if (ls.tid != 0 && ls.tid != tid)
    throw RuntimeError("signal handlers of a loop must be added from the thread that added the first one");
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  sigset_t old;
  // Block first, then take over the disposition: from then on every arrival is either queued for
  // the signalfd or forwarded to this thread, never lost to the old disposition.
  if (int rc = ::pthread_sigmask(SIG_BLOCK, &one, &old); rc != 0) throw_os_error(rc, "pthread_sigmask");
  entry.was_blocked = sigismember(&old, sig) == 1;
  g_owner_tid[static_cast<std::size_t>(sig)].store(tid, std::memory_order_relaxed);
  struct sigaction sa {};
  sa.sa_handler = forward_signal;
  sigfillset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // other threads' blocking calls are not interrupted (asyncio: siginterrupt False)
  if (::sigaction(sig, &sa, &entry.previous) != 0) {
    const int err = errno;
    g_owner_tid[static_cast<std::size_t>(sig)].store(0, std::memory_order_relaxed);
    if (!entry.was_blocked) ::pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
    if (err == EINVAL) throw RuntimeError("sig " + std::to_string(sig) + " cannot be caught");
    throw_os_error(err, "sigaction");
  }
  g_owner_loop[static_cast<std::size_t>(sig)] = &loop;
  sigset_t want = ls.mask;
  sigaddset(&want, sig);
  const int fd = ::signalfd(ls.sfd, &want, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    ::sigaction(sig, &entry.previous, nullptr);
    g_owner_loop[static_cast<std::size_t>(sig)] = nullptr;
    g_owner_tid[static_cast<std::size_t>(sig)].store(0, std::memory_order_relaxed);
    if (!entry.was_blocked) ::pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
    throw_os_error(err, "signalfd");
  }
  ls.mask = want;
  ls.tid = tid;
  if (ls.sfd < 0) {
    ls.sfd = fd;
    try {
      loop.add_reader(fd, [l = &loop] { read_signalfd(l); });
    } catch (...) {
      ::close(fd);
      ls.sfd = -1;
      throw;
    }
  }
}

// Gives sig back: previous disposition, pending instances discarded, previous mask bit. Caller
// holds g_mutex. Returns true if the loop has no signal left (its signalfd can go).
bool uninstall(EventLoop& loop, LoopSignals& ls, int sig, SignalEntry& entry) noexcept {
  const auto idx = static_cast<std::size_t>(sig);
  g_owner_tid[idx].store(0, std::memory_order_relaxed);
  if (g_owner_loop[idx] == &loop) g_owner_loop[idx] = nullptr;
  ::sigaction(sig, &entry.previous, nullptr);
  sigdelset(&ls.mask, sig);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  if (current_tid() == ls.tid) {
    // An instance that arrived while our handler was installed belongs to the removed handler;
    // unblocking it now would hand it to the restored (often fatal) default disposition.
    const timespec zero{0, 0};
    while (::sigtimedwait(&one, nullptr, &zero) == sig) {
    }
    if (!entry.was_blocked) ::pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  }
  if (ls.sfd >= 0) ::signalfd(ls.sfd, &ls.mask, SFD_NONBLOCK | SFD_CLOEXEC);
  for (int s = 1; s < NSIG; ++s)
    if (sigismember(&ls.mask, s) == 1) return false;
  return true;
}

void drop_signalfd(EventLoop& loop, LoopSignals& ls) noexcept {
  if (ls.sfd < 0) return;
  try {
    loop.remove_reader(ls.sfd);
  } catch (...) {
  }
  ::close(ls.sfd);
  ls.sfd = -1;
  ls.tid = 0;
}

void read_signalfd(EventLoop* loop) {
  for (;;) {
    int fd;
    {
      std::lock_guard lock(g_mutex);
      auto it = g_loops().find(loop);
      if (it == g_loops().end() || it->second.sfd < 0) return;
      fd = it->second.sfd;
    }
    signalfd_siginfo info;
    const ssize_t n = ::read(fd, &info, sizeof info);
    if (n != static_cast<ssize_t>(sizeof info)) return;  // EAGAIN: drained
    const int sig = static_cast<int>(info.ssi_signo);
    std::shared_ptr<detail::Callback> user;
    std::function<void()> internal;
    {
      std::lock_guard lock(g_mutex);
      auto lit = g_loops().find(loop);
      if (lit == g_loops().end()) return;
      auto it = lit->second.entries.find(sig);
      if (it == lit->second.entries.end()) continue;
      user = it->second.user;
      internal = it->second.internal;
    }
    if (internal) internal();
    // Like asyncio's _handle_signal: the handler runs as its own callback of the ready deque.
    if (user) loop->schedule_soon(SignalCall{std::move(user)});
  }
}

void add_entry(EventLoop& loop, int sig, std::shared_ptr<detail::Callback> user, std::function<void()> internal) {
  check_signal(sig);
  loop.check_closed();
  std::lock_guard lock(g_mutex);
  LoopSignals& ls = g_loops()[&loop];
  auto [it, inserted] = ls.entries.try_emplace(sig);
  if (inserted) {
    try {
      install(loop, ls, sig, it->second);
    } catch (...) {
      ls.entries.erase(it);
      if (ls.entries.empty() && ls.sfd < 0) g_loops().erase(&loop);
      throw;
    }
  }
  if (user) it->second.user = std::move(user);
  if (internal) it->second.internal = std::move(internal);
}

// Clears one side of an entry; uninstalls when neither side is left. Caller holds g_mutex.
bool remove_entry(EventLoop& loop, int sig, bool user_side) noexcept {
  auto lit = g_loops().find(&loop);
  if (lit == g_loops().end()) return false;
  LoopSignals& ls = lit->second;
  auto it = ls.entries.find(sig);
  if (it == ls.entries.end()) return false;
  SignalEntry& e = it->second;
  if (user_side) {
    if (!e.user) return false;
    e.user.reset();
  } else {
    if (!e.internal) return false;
    e.internal = nullptr;
  }
  if (e.user || e.internal) return true;
  const bool none_left = uninstall(loop, ls, sig, e);
  ls.entries.erase(it);
  if (none_left) {
    drop_signalfd(loop, ls);
    g_loops().erase(lit);
  }
  return true;
}

}  // namespace

bool is_valid_signal(int sig) noexcept {
  if (sig < 1 || sig >= NSIG) return false;
  sigset_t all;
  sigfillset(&all);  // glibc leaves out the signals it reserves (32, 33), as Python's valid_signals()
  return sigismember(&all, sig) == 1;
}

void EventLoop::set_signal_handler(int sig, detail::Callback cb) {
  add_entry(*this, sig, std::make_shared<detail::Callback>(std::move(cb)), nullptr);
}

bool EventLoop::remove_signal_handler(int sig) {
  check_signal(sig);
  std::lock_guard lock(g_mutex);
  return remove_entry(*this, sig, true);
}

namespace detail {

void add_internal_signal_watch(EventLoop& loop, int sig, std::function<void()> fn) {
  add_entry(loop, sig, nullptr, std::move(fn));
}

void remove_internal_signal_watch(EventLoop& loop, int sig) noexcept {
  std::lock_guard lock(g_mutex);
  remove_entry(loop, sig, false);
}

void close_loop_signals(EventLoop& loop) noexcept {
  std::lock_guard lock(g_mutex);
  auto lit = g_loops().find(&loop);
  if (lit == g_loops().end()) return;
  LoopSignals& ls = lit->second;
  for (auto& [sig, entry] : ls.entries) uninstall(loop, ls, sig, entry);
  ls.entries.clear();
  drop_signalfd(loop, ls);
  g_loops().erase(lit);
}

// ---- qaio::run's SIGINT guard -------------------------------------------------------------------

struct SigintCancelsTask::State {
  AnyTask main;
  int interrupts = 0;
  bool installed = false;
};

SigintCancelsTask::SigintCancelsTask(EventLoop& loop, AnyTask main)
    : loop_(loop), state_(std::make_shared<State>()) {
  state_->main = std::move(main);
  // asyncio.Runner only does this in the main thread and when nobody replaced SIGINT's handler.
  if (current_tid() != ::getpid()) return;
  struct sigaction current {};
  if (::sigaction(SIGINT, nullptr, &current) != 0 || current.sa_handler != SIG_DFL ||
      (current.sa_flags & SA_SIGINFO))
    return;
  {
    std::lock_guard lock(g_mutex);
    if (g_owner_loop[SIGINT]) return;  // somebody's loop already handles it
  }
  std::weak_ptr<State> weak = state_;
  loop.add_signal_handler(SIGINT, [weak] {
    auto s = weak.lock();
    if (!s) return;
    ++s->interrupts;
    if (s->interrupts == 1 && !s->main.done()) {
      s->main.cancel();
      return;
    }
    throw KeyboardInterrupt();  // a second Ctrl-C (or one after main finished) stops at once
  });
  state_->installed = true;
}

SigintCancelsTask::~SigintCancelsTask() {
  if (state_->installed && !loop_.is_closed()) {
    try {
      loop_.remove_signal_handler(SIGINT);
    } catch (...) {
    }
  }
}

void SigintCancelsTask::raise_if_interrupted() {
  if (state_->interrupts > 0 && state_->main && state_->main.uncancel() == 0) throw KeyboardInterrupt();
}

}  // namespace detail
}  // namespace qaio
