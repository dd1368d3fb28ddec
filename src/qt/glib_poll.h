// glib_poll.h (private): under Qt's glib event dispatcher, one wait per I/O wakeup instead of two.
//
// Qt's glib dispatcher blocks in g_poll() over the fds its GMainContext watches, one of which is the
// loop's epoll fd (the driver's notifier). An I/O wakeup then costs glib's poll() and, in
// run_once(), an epoll_wait(0) to learn which of the loop's fds are ready. The hook replaces the
// context's poll function (g_main_context_set_poll_func, public glib API):
//   - glib's other fds go into an epoll set of the hook's own, which sits in the loop's set;
//   - the hook blocks in epoll_wait() on the loop's set and keeps the events for the dispatch that
//     follows (Selector::wait_and_keep), reporting the loop's fd readable to glib if it got any;
//   - glib's fds are poll()ed for their revents only when their set reports one of them ready.
// The hook also tells the loop about nested Qt loops (glib calls it on every iteration, and a
// wait is cut short to a timer the loop armed inside it), so once glib has called the hook the
// loop drops its aboutToBlock()/awake() connections. Measured on the one-connection echo
// benchmark: 3.84 us of server CPU per request without the hook (12:06 run; asio 2.98), 3.10 with
// it (16:24 run; asio 2.80); docs/benchmarks.md has the instruction counts.
//
// An epoll registration is keyed by file and fd number. If glib's list names the same fd with the
// same events in two waits, the number may meanwhile have been closed and reused (a socket
// notifier replaced by another on the same number in one iteration), and the new file is not in
// the set. glib signals its own wakeup fd whenever an fd joins or leaves its list
// (g_main_context_add_poll/remove_poll, which g_source_add_poll and a blocked source's removal
// go through), so such a change leaves the wakeup fd ready until a wait reports it. The wakeup
// fd has the default priority, as the loop's notifier does, so it is in every list the hook
// nests, and a wait that reports none of glib's fds ready proves the list unchanged. After any
// wait that does report one, the next wait checks glib's fds with EPOLL_CTL_MOD, which looks the
// registration up by the file the number names today. If one fails, the nested set is made anew
// (never pruned fd by fd: a registration whose file outlived its number cannot be removed by
// number). An I/O wakeup of the loop alone thus costs no check; checking on every wait had cost
// about 0.14 us per request (same-minute A/B, docs/benchmarks.md). Only sockets, pipes and anonymous-inode fds are nested; a list with
// anything else (a regular file, a /proc file whose poll() has side effects) or with more than
// kMaxGlibFds fds goes to glib's own poll.
//
// glib is not a build dependency: its six functions are looked up in the process, where Qt's glib
// dispatcher has loaded them. Without them, or under another dispatcher, nothing is installed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace qaio::qt {
class QtEventLoop;
}

namespace qaio::qt::detail {

// glib's GPollFD: { gint fd; gushort events; gushort revents; }, the same layout as struct pollfd.
struct GlibPollFd {
  int fd;
  unsigned short events;
  unsigned short revents;
};

class GlibPollHook {
 public:
  // More distinct glib fds than this: glib's own poll (re-checking each per wait would cost more).
  static constexpr std::size_t kMaxGlibFds = 16;

  // Installs the hook for `loop` on this thread's GMainContext. Null when Qt's dispatcher is not
  // glib's, glib's functions are not in the process, or another loop of this thread has the hook.
  static std::unique_ptr<GlibPollHook> install(QtEventLoop& loop, int loop_epoll_fd);
  ~GlibPollHook();
  GlibPollHook(const GlibPollHook&) = delete;
  GlibPollHook& operator=(const GlibPollHook&) = delete;

  // For QtEventLoop::set_io_linger: until when (loop.time()) a dispatch in this Qt iteration may
  // keep waiting in the loop's set. -inf unless the iteration's wait went through the nested set
  // and found none of glib's fds ready; then the end of glib's own timeout (its Qt timers), +inf
  // if it had none. Worked out only while the loop lingers.
  double linger_until() const noexcept { return linger_until_; }
  // Whether the loop's set reported glib's set since the last call (a linger must end).
  bool glib_fired() noexcept;
  // No more lingering until glib polls again.
  void stop_linger() noexcept;
  // The linger's alarm: a timerfd in the loop's set, armed once per lingering dispatch, so that
  // the waits themselves block without a timeout (an epoll_wait with a timeout arms a kernel
  // timer per wait, which cost ~2 us a request on this VM). False if it cannot be armed.
  bool arm_linger_alarm(double seconds) noexcept;
  bool linger_alarm_rang() noexcept;  // since the last call
  unsigned long polls() const noexcept { return polls_; }  // how many times glib has called the hook
  void disarm_linger_alarm() noexcept;  // and forget a ring

 private:
  using PollFunc = int (*)(GlibPollFd*, unsigned int, int);
  GlibPollHook(QtEventLoop& loop, int loop_epoll_fd, void* context, PollFunc previous);
  static int hooked_poll(GlibPollFd* fds, unsigned int nfds, int timeout_ms);
  int poll(GlibPollFd* fds, unsigned int nfds, int timeout_ms);
  // Makes the hook's set watch exactly glib's fds other than the loop's (see the top of the file);
  // false, with the set closed, if one cannot be watched by epoll. nest() does the work.
  bool sync(const GlibPollFd* fds, unsigned int nfds);
  bool nest(const GlibPollFd* fds, unsigned int nfds);
  // The nested set: made and put into the loop's set, taken out and closed, or both.
  void new_set();
  void close_set() noexcept;
  void renew_set();

  QtEventLoop& loop_;
  int loop_epfd_;
  int glib_epfd_ = -1;
  void* context_;
  PollFunc previous_;
  struct Watched {
    int fd;
    std::uint32_t events;
  };
  std::vector<Watched> watched_;  // what glib_epfd_ holds, one entry per fd (empty: nothing yet)
  std::vector<Watched> wanted_;   // sync()'s scratch: what glib asks for this time
  std::vector<Watched> refused_;  // a list epoll could not watch: left to glib's poll while it lasts
  // Whether the next wait on an unchanged list checks the set's registrations (see the top).
  bool check_next_ = true;
  double linger_until_ = -1e300;  // see linger_until() (-inf until glib has polled)
  int linger_fd_ = -1;            // the linger's timerfd, made on first use
  unsigned long polls_ = 0;
};

}  // namespace qaio::qt::detail
