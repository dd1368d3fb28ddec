// gui_test.cpp: modal dialogs opened by tasks (issue 3, item 3; DESIGN rule 3) and the
// last-window-closed quit path, on the offscreen platform with a QApplication.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <QApplication>
#include <QDialog>
#include <QMessageBox>
#include <QPushButton>
#include <QTimer>
#include <QWidget>

#include <memory>
#include <string>
#include <thread>

#include "qaio/qt.h"

using qaio::qt::QtEventLoop;

namespace {

qaio::Coro<void> fifty_sleeps(int* steps) {
  for (int i = 0; i < 50; ++i) {
    co_await qaio::sleep(0.001);
    ++*steps;
  }
}

}  // namespace

// A task opens QDialog::exec(). While it is open a second task finishes a 50-step sleep loop and
// a reader receives data from a socketpair; after done() the first task resumes with the result.
TEST(QtGui, ModalDialogOpenedByATask) {
  QtEventLoop loop;
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  QDialog* open_dialog = nullptr;
  int steps = 0;
  std::string received;
  bool dialog_was_modal = false, dialog_visible_meanwhile = false, resumed_after_exec = false;

  auto opener = loop.create_task([](QDialog** slot, bool* resumed) -> qaio::Coro<int> {
    QDialog dialog;
    dialog.setModal(true);
    *slot = &dialog;
    const int rc = dialog.exec();  // nested Qt loop inside this task step
    *slot = nullptr;
    co_await qaio::sleep(0.001);   // the task goes on as usual afterwards
    *resumed = true;
    co_return rc;
  }(&open_dialog, &resumed_after_exec));
  auto sleeper = loop.create_task(fifty_sleeps(&steps));
  loop.add_reader(sv[0], [&] {
    char buf[64];
    ssize_t n = ::read(sv[0], buf, sizeof buf);
    if (n > 0) received.append(buf, static_cast<std::size_t>(n));
  });
  // Another thread writes while the dialog is open (a real peer, not a callback of this loop).
  std::thread writer([fd = sv[1]] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    EXPECT_EQ(::write(fd, "ping", 4), 4);
  });
  auto closer = loop.create_task([](QDialog** slot, qaio::Task<void> sl, std::string* got, bool* modal,
                                    bool* visible) -> qaio::Coro<void> {
    while (*slot == nullptr) co_await qaio::sleep(0.001);
    co_await sl;
    while (got->size() < 4) co_await qaio::sleep(0.001);
    *modal = (*slot)->isModal();
    *visible = (*slot)->isVisible();
    (*slot)->done(42);
  }(&open_dialog, sleeper, &received, &dialog_was_modal, &dialog_visible_meanwhile));
  // If qaio stalled inside the dialog, this plain Qt timer ends it with -1 instead of a hang.
  QTimer guard;
  guard.setSingleShot(true);
  QObject::connect(&guard, &QTimer::timeout, [&] {
    if (open_dialog) open_dialog->done(-1);
  });
  guard.start(5000);
  EXPECT_EQ(loop.run_until_complete(opener), 42);
  guard.stop();
  loop.run_until_complete(closer);
  writer.join();
  EXPECT_EQ(steps, 50);
  EXPECT_EQ(received, "ping");
  EXPECT_TRUE(dialog_was_modal);
  EXPECT_TRUE(dialog_visible_meanwhile);
  EXPECT_TRUE(resumed_after_exec);
  loop.remove_reader(sv[0]);
  ::close(sv[0]);
  ::close(sv[1]);
}

// Under app.exec() (qaio::qt::run): while a QMessageBox opened by main is open, the loop's timers
// and another task keep running; main resumes with the clicked button.
TEST(QtGui, MessageBoxUnderAppExec) {
  static int ticks = 0;
  ticks = 0;
  int rc = qaio::qt::run(*qApp, []() -> qaio::Coro<int> {
    QMessageBox box(QMessageBox::Question, "qaio", "Continue?", QMessageBox::Yes | QMessageBox::No);
    auto& loop = qaio::get_running_loop();
    // A periodic qaio timer and a task that answers once it has seen ten ticks.
    std::function<void()> tick = [&] {
      ++ticks;
      if (box.isVisible() || ticks < 10) loop.call_later(0.002, tick);
    };
    loop.call_soon(tick);
    loop.create_task([](QMessageBox* b) -> qaio::Coro<void> {
      while (ticks < 10 || !b->isVisible()) co_await qaio::sleep(0.001);
      b->button(QMessageBox::No)->click();
    }(&box));
    const int answer = box.exec();
    co_return answer == QMessageBox::No ? 7 : 1;
  }());
  EXPECT_EQ(rc, 7);
  EXPECT_GE(ticks, 10);
}

// With quitOnLastWindowClosed, closing the last window quits every Qt loop of the thread: run()
// returns, and main (still awaiting) is cancelled and awaited rather than lost.
TEST(QtGui, LastWindowClosedCancelsMain) {
  static bool main_cancelled = false;
  main_cancelled = false;
  ASSERT_TRUE(QApplication::quitOnLastWindowClosed());
  QWidget window;
  window.show();
  QTimer::singleShot(30, &window, &QWidget::close);
  int rc = qaio::qt::run(*qApp, []() -> qaio::Coro<void> {
    try {
      co_await qaio::sleep(100);
    } catch (const qaio::CancelledError&) {
      main_cancelled = true;
      throw;
    }
  }());
  EXPECT_EQ(rc, 0);
  EXPECT_TRUE(main_cancelled);
}
