// glib_poll_test.cpp: the glib poll hook (src/qt/glib_poll.h). Under Qt's glib dispatcher a
// QtEventLoop waits for its own fds and glib's in one epoll_wait; these tests pin down what that
// must not break for the rest of the application: a socket notifier whose fd number was closed and
// reused within one Qt iteration still fires (an epoll set would have forgotten it), a notifier
// on a regular file (which epoll cannot watch) still fires, and qaio's I/O keeps flowing beside
// both. They run on the test application's own dispatcher, which must be glib's.
#include <dlfcn.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <QAbstractEventDispatcher>
#include <QEventLoop>
#include <QSocketNotifier>
#include <QTimer>

#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "qaio/qt.h"
#include "qt_test_support.h"
#include "test_objects.h"

using qaio::qt::QtEventLoop;

namespace {

using PollFunction = void*;

// Whether this thread's glib context polls through something other than glib's g_poll: the hook.
bool glib_poll_is_hooked() {
  auto context_default = reinterpret_cast<void* (*)()>(::dlsym(RTLD_DEFAULT, "g_main_context_default"));
  auto get_poll_func = reinterpret_cast<PollFunction (*)(void*)>(::dlsym(RTLD_DEFAULT, "g_main_context_get_poll_func"));
  void* g_poll = ::dlsym(RTLD_DEFAULT, "g_poll");
  if (!context_default || !get_poll_func || !g_poll) return false;
  return get_poll_func(context_default()) != g_poll;
}

void assert_glib_dispatcher() {
  ASSERT_TRUE(glib_dispatcher())
      << "these tests need Qt's glib dispatcher (Debian's Qt has it; QT_NO_GLIB must be unset)";
}

// Makes `got` collect what arrives on fd, through a qaio reader; quits `done` (if any) once
// `expect` has arrived.
void collect(QtEventLoop& loop, int fd, std::string& got, const std::string& expect = "", QEventLoop* done = nullptr) {
  loop.add_reader(fd, [fd, &got, expect, done] {
    char buf[64];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) got.append(buf, static_cast<std::size_t>(n));
    if (done && got == expect) done->quit();
  });
}

}  // namespace

TEST(GlibPollHook, IsInstalledWhileAQtEventLoopLivesAndRemovedAfter) {
  assert_glib_dispatcher();
  {
    QtEventLoop loop;
    EXPECT_TRUE(glib_poll_is_hooked());
    loop.close();
  }
  EXPECT_FALSE(glib_poll_is_hooked()) << "the hook outlived its loop";
}

// A Qt socket notifier is replaced, within one Qt iteration, by one on a new socket that got the
// same fd number: glib's poll list looks exactly as before, but the file is another. The new
// notifier must fire, and qaio's own reader must keep getting its data.
TEST(GlibPollHook, NotifierOnAReusedFdNumberStillFires) {
  assert_glib_dispatcher();
  QtEventLoop loop;
  ASSERT_TRUE(glib_poll_is_hooked());
  SocketPair qaio_side;
  std::string qaio_got;
  collect(loop, qaio_side.fd[0], qaio_got);

  auto first = std::make_unique<SocketPair>();
  const int number = first->fd[0];
  auto notifier = std::make_unique<QSocketNotifier>(number, QSocketNotifier::Read);
  QEventLoop q;
  int first_fired = 0, second_fired = 0;
  QObject::connect(notifier.get(), &QSocketNotifier::activated, [&] {
    ++first_fired;
    char buf[64];
    (void)::recv(number, buf, sizeof buf, 0);
    q.quit();
  });
  ASSERT_EQ(::send(first->fd[1], "x", 1, 0), 1);
  ASSERT_TRUE(spin_foreign(q, 3000)) << "the first notifier never fired";
  ASSERT_EQ(first_fired, 1);

  // One Qt iteration: the notifier and its socket go, a new socket takes the number, and a new
  // notifier watches it.
  std::unique_ptr<SocketPair> second;
  std::unique_ptr<QSocketNotifier> replacement;
  QTimer::singleShot(0, [&] {
    notifier.reset();
    first.reset();
    second = std::make_unique<SocketPair>();
    // socketpair() takes the two lowest free numbers; make sure the watched end has the old one.
    if (second->fd[1] == number) std::swap(second->fd[0], second->fd[1]);
    ASSERT_EQ(second->fd[0], number) << "the new socket did not reuse the number";
    replacement = std::make_unique<QSocketNotifier>(number, QSocketNotifier::Read);
    QObject::connect(replacement.get(), &QSocketNotifier::activated, [&] {
      ++second_fired;
      char buf[64];
      (void)::recv(number, buf, sizeof buf, 0);
      q.quit();
    });
  });
  // The peer writes later, once the Qt loop has waited a few times with the new list: a write in
  // the same iteration would be seen anyway, since glib wakes itself when its poll list changes.
  QTimer::singleShot(100, [&] {
    ASSERT_EQ(::send(second->fd[1], "y", 1, 0), 1);
    ASSERT_EQ(::send(qaio_side.fd[1], "qaio", 4, 0), 4);
  });
  EXPECT_TRUE(spin_foreign(q, 3000)) << "the notifier on the reused fd number never fired";
  EXPECT_EQ(second_fired, 1);
  // qaio's reader ran in the same spin or runs now.
  QEventLoop settle;
  QTimer::singleShot(50, &settle, &QEventLoop::quit);
  settle.exec();
  EXPECT_EQ(qaio_got, "qaio");
  replacement.reset();
  loop.remove_reader(qaio_side.fd[0]);
  loop.close();
}

// epoll cannot watch a regular file: while a Qt notifier watches one, the hook leaves the wait to
// glib's own poll, and both that notifier and qaio's reader are served.
TEST(GlibPollHook, NotifierOnARegularFileIsServedByGlibsOwnPoll) {
  assert_glib_dispatcher();
  QtEventLoop loop;
  ASSERT_TRUE(glib_poll_is_hooked());
  char path[] = "/tmp/qaio-glib-poll-XXXXXX";
  const int file = ::mkstemp(path);
  ASSERT_GE(file, 0);
  ::unlink(path);
  QSocketNotifier notifier(file, QSocketNotifier::Read);
  int file_fired = 0;
  QEventLoop q;
  std::string qaio_got;
  QObject::connect(&notifier, &QSocketNotifier::activated, [&] {
    // A regular file is always readable: let it fire a few times (so later waits take the path
    // that remembers the refused list), then stop watching.
    if (++file_fired == 3) notifier.setEnabled(false);
    if (file_fired == 3 && qaio_got == "qaio") q.quit();
  });
  SocketPair qaio_side;
  loop.add_reader(qaio_side.fd[0], [&] {
    char buf[64];
    const ssize_t n = ::recv(qaio_side.fd[0], buf, sizeof buf, 0);
    if (n > 0) qaio_got.append(buf, static_cast<std::size_t>(n));
    if (file_fired == 3 && qaio_got == "qaio") q.quit();
  });
  QTimer::singleShot(20, [&] { ASSERT_EQ(::send(qaio_side.fd[1], "qaio", 4, 0), 4); });
  ASSERT_EQ(file_fired, 0);
  EXPECT_TRUE(spin_foreign(q, 3000)) << "qaio's reader or the notifier was not served";
  EXPECT_EQ(qaio_got, "qaio");
  EXPECT_EQ(file_fired, 3);
  loop.remove_reader(qaio_side.fd[0]);
  loop.close();
  ::close(file);
}

// A callback spins a nested Qt loop (a modal dialog would) while the loop's next timer is far
// away. The hook hands the loop's work to its Qt timer on every glib iteration of the nested loop;
// that must not make glib's waits zero ones (it once did: re-arming for the same deadline
// restarted the timer, which looked like a new deadline every time).
TEST(GlibPollHook, NestedQtLoopWithAFarTimerSleeps) {
  assert_glib_dispatcher();
  QtEventLoop loop;
  ASSERT_TRUE(glib_poll_is_hooked());
  bool far_fired = false;
  loop.call_later(30.0, [&] { far_fired = true; });
  double nested_cpu = -1;
  loop.call_soon([&] {
    nested_cpu = idle_spin_cpu(500);
    loop.stop();
  });
  loop.run_forever();
  EXPECT_FALSE(far_fired);
  EXPECT_GE(nested_cpu, 0.0) << "the callback did not run";
  EXPECT_LT(nested_cpu, 0.2) << "the nested Qt loop spun instead of sleeping";
  loop.close();
}

// glib's list outgrows what the hook nests at the moment an fd leaves it with data unread (a
// notifier switched off for flow control). The nested set still holds that fd; if it stayed in
// the loop's set, the loop's fd would stay ready and glib's own poll would return at once, again
// and again.
TEST(GlibPollHook, ListOutgrowingTheSetWhileALeftFdIsReadyDoesNotSpin) {
  assert_glib_dispatcher();
  QtEventLoop loop;
  ASSERT_TRUE(glib_poll_is_hooked());
  // Ten notifiers and glib's own fds fit in the nested set; ten more do not.
  constexpr int kFirst = 10, kMore = 10;
  std::vector<std::unique_ptr<SocketPair>> pairs;
  std::vector<std::unique_ptr<QSocketNotifier>> notifiers;
  const auto add_notifier = [&] {
    pairs.push_back(std::make_unique<SocketPair>());
    notifiers.push_back(std::make_unique<QSocketNotifier>(pairs.back()->fd[0], QSocketNotifier::Read));
  };
  for (int i = 0; i < kFirst; ++i) add_notifier();
  idle_spin_cpu(50);  // the hook nests them
  QSocketNotifier* first = notifiers.front().get();
  int first_fired = 0;
  QObject::connect(first, &QSocketNotifier::activated, [&] {
    ++first_fired;
    first->setEnabled(false);  // leaves the byte unread
    for (int i = 0; i < kMore; ++i) add_notifier();
  });
  ASSERT_EQ(::send(pairs.front()->fd[1], "x", 1, 0), 1);
  const double cpu = idle_spin_cpu(500);
  EXPECT_EQ(first_fired, 1);
  EXPECT_EQ(notifiers.size(), static_cast<std::size_t>(kFirst + kMore));
  EXPECT_LT(cpu, 0.2) << "the Qt loop spun on an fd glib no longer polls";
  // glib's own poll now serves the long list: the last notifier fires, and so does qaio's reader.
  ASSERT_EQ(notifiers.size(), static_cast<std::size_t>(kFirst + kMore));
  QEventLoop q;
  bool last_fired = false;
  std::string qaio_got;
  QObject::connect(notifiers.back().get(), &QSocketNotifier::activated, [&] {
    char c;
    (void)::recv(pairs.back()->fd[0], &c, 1, 0);
    last_fired = true;
    if (qaio_got == "q") q.quit();
  });
  SocketPair qaio_side;
  loop.add_reader(qaio_side.fd[0], [&] {
    char c;
    if (::recv(qaio_side.fd[0], &c, 1, 0) == 1) qaio_got.push_back(c);
    if (last_fired) q.quit();
  });
  ASSERT_EQ(::send(pairs.back()->fd[1], "y", 1, 0), 1);
  ASSERT_EQ(::send(qaio_side.fd[1], "q", 1, 0), 1);
  EXPECT_TRUE(spin_foreign(q, 3000)) << "the long list's notifier or qaio's reader was not served";
  EXPECT_TRUE(last_fired);
  EXPECT_EQ(qaio_got, "q");
  loop.remove_reader(qaio_side.fd[0]);
  notifiers.clear();
  loop.close();
}
