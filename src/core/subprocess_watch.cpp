// subprocess_watch.cpp: noticing that a child exited and reaping it, without stealing anybody
// else's children.
//
// pidfd mode (Linux >= 5.3): pidfd_open(pid) is readable once the child exits; the loop watches it
// with add_reader like any fd, then waitpid(pid, WNOHANG) reaps exactly that child.
// SIGCHLD mode (no pidfd_open, or forced for tests): one internal SIGCHLD watch per loop (through
// signals.cpp, so it coexists with a user's handler) runs waitpid(pid, WNOHANG) for each of the
// loop's own pids. Never waitpid(-1): that would reap children other code is waiting for.
// Either way, if the loop closes while a child still runs, a detached thread waits for it, so it
// never stays a zombie.
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "qaio/signals.h"
#include "subprocess_impl.h"

namespace qaio::detail {

namespace {

std::atomic<bool> g_force_sigchld{false};

int open_pidfd(pid_t pid) noexcept {
#ifdef SYS_pidfd_open
  if (g_force_sigchld.load(std::memory_order_relaxed)) return -1;
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

// Blocks in a helper thread until `pid` exits: the loop that should have reaped it is gone.
void reap_in_background(pid_t pid) noexcept {
  try {
    std::thread([pid] {
      int status;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }).detach();
  } catch (...) {
  }
}

// One watched child. Destroyed by whoever owns it last (the loop's reader callback, or the SIGCHLD
// registry); a child not reaped by then goes to the background reaper.
struct ChildEntry {
  pid_t pid;
  int pidfd = -1;
  bool reaped = false;
  std::function<void(int)> on_exit;

  ChildEntry(pid_t p, std::function<void(int)> cb) : pid(p), on_exit(std::move(cb)) {}
  ChildEntry(const ChildEntry&) = delete;
  ChildEntry& operator=(const ChildEntry&) = delete;
  ~ChildEntry() {
    if (pidfd >= 0) ::close(pidfd);
    if (!reaped) reap_in_background(pid);
  }

  // Reaps the child if it has exited: its returncode, or nullopt while it runs.
  std::optional<int> try_reap() {
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(pid, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0) return std::nullopt;
    reaped = true;
    // ECHILD: somebody else reaped it (SIGCHLD set to SIG_IGN, a stray waitpid(-1)). asyncio
    // reports 255 for such an "unknown child process" too.
    return r == pid ? returncode_from_status(status) : 255;
  }
  void finish(int rc) {
    if (auto cb = std::exchange(on_exit, nullptr)) cb(rc);
  }
};

// The SIGCHLD watcher's children of one loop. Owned by the internal signal watch's function, so
// closing the loop (which drops its signal watches) drops the registry and its entries.
struct SigchldRegistry {
  std::vector<std::shared_ptr<ChildEntry>> children;
  void check() {
    // poll() may run user code (on_exit) that spawns more children: iterate over a snapshot.
    auto snapshot = children;
    for (auto& c : snapshot) {
      if (auto rc = c->try_reap()) {
        std::erase(children, c);
        c->finish(*rc);
      }
    }
  }
};

std::mutex g_registry_mutex;
std::map<const EventLoop*, std::weak_ptr<SigchldRegistry>>& g_registries() {
  static auto* m = new std::map<const EventLoop*, std::weak_ptr<SigchldRegistry>>();
  return *m;
}

void watch_with_sigchld(EventLoop& loop, std::shared_ptr<ChildEntry> entry) {
  std::shared_ptr<SigchldRegistry> registry;
  {
    std::lock_guard lock(g_registry_mutex);
    registry = g_registries()[&loop].lock();
  }
  if (!registry) {
    registry = std::make_shared<SigchldRegistry>();
    add_internal_signal_watch(loop, SIGCHLD, [registry] { registry->check(); });
    std::lock_guard lock(g_registry_mutex);
    g_registries()[&loop] = registry;
  }
  registry->children.push_back(std::move(entry));
  // The child may have exited before the watch existed (its SIGCHLD then went to the old
  // disposition): look once from the loop.
  std::weak_ptr<SigchldRegistry> weak = registry;
  loop.call_soon([weak] {
    if (auto r = weak.lock()) r->check();
  });
}

}  // namespace

void force_sigchld_child_watcher(bool on) noexcept { g_force_sigchld.store(on, std::memory_order_relaxed); }

bool using_pidfd_child_watcher() noexcept {
  if (g_force_sigchld.load(std::memory_order_relaxed)) return false;
  const int fd = open_pidfd(::getpid());
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

void watch_child(EventLoop& loop, pid_t pid, std::function<void(int)> on_exit) {
  auto entry = std::make_shared<ChildEntry>(pid, std::move(on_exit));
  entry->pidfd = open_pidfd(pid);
  if (entry->pidfd < 0) return watch_with_sigchld(loop, std::move(entry));
  EventLoop* l = &loop;
  // The reader callback owns the entry: closing the loop drops it (and hands the child to the
  // background reaper if it still runs).
  loop.add_reader(entry->pidfd, [entry, l] {
    if (entry->reaped) return;
    auto rc = entry->try_reap();
    if (!rc) return;
    l->remove_reader(entry->pidfd);
    ::close(entry->pidfd);
    entry->pidfd = -1;
    entry->finish(*rc);
  });
}

}  // namespace qaio::detail
