// fd_test.cpp: spec section 8, add_reader/add_writer/remove_reader/remove_writer on the loop's
// selector: registrations (white box through watched_events/reader_handle/writer_handle), handle
// replacement, level triggering and cancelled fd handles (items 53-58).
#include <fcntl.h>

#include "conformance_util.h"

using conformance::run_one_iteration;
using conformance::SocketPair;

QAIO_LOOP_SUITE(Fd);

namespace {

constexpr int R = qaio::EventLoop::EVENT_READ;
constexpr int W = qaio::EventLoop::EVENT_WRITE;

std::string read_all(int fd) {
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

}  // namespace

TYPED_TEST(Fd, Item53_AddReaderRegistersReadAndKeepsAnExistingWriter) {
  qaio::EventLoop& loop = this->loop;
  SocketPair sp;
  ASSERT_GE(sp.a, 0);
  EXPECT_EQ(loop.watched_events(sp.a), 0);
  qaio::Handle r = loop.add_reader(sp.a, [] {});
  EXPECT_EQ(loop.watched_events(sp.a), R);
  EXPECT_TRUE(loop.reader_handle(sp.a) == r);
  EXPECT_FALSE(loop.writer_handle(sp.a));

  qaio::Handle w = loop.add_writer(sp.b, [] {});
  EXPECT_EQ(loop.watched_events(sp.b), W);
  qaio::Handle r2 = loop.add_reader(sp.b, [] {});
  EXPECT_EQ(loop.watched_events(sp.b), R | W);
  EXPECT_TRUE(loop.writer_handle(sp.b) == w);
  EXPECT_TRUE(loop.reader_handle(sp.b) == r2);
  EXPECT_FALSE(w.cancelled());
  EXPECT_THROW(loop.add_reader(-1, [] {}), std::invalid_argument);
  loop.remove_reader(sp.a);
  loop.remove_reader(sp.b);
  loop.remove_writer(sp.b);
}

TYPED_TEST(Fd, Item54_AddingASecondReaderReplacesTheFirst) {
  qaio::EventLoop& loop = this->loop;
  SocketPair sp;
  std::vector<std::pair<std::string, std::string>> got;
  qaio::Handle first = loop.add_reader(sp.a, [&] { got.emplace_back("first", read_all(sp.a)); });
  qaio::Handle second = loop.add_reader(sp.a, [&] {
    got.emplace_back("second", read_all(sp.a));
    loop.stop();
  });
  EXPECT_TRUE(first.cancelled());
  EXPECT_FALSE(second.cancelled());
  EXPECT_TRUE(loop.reader_handle(sp.a) == second);
  ASSERT_EQ(::write(sp.b, "abc", 3), 3);
  loop.call_later(5, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{{"second", "abc"}}));
  EXPECT_TRUE(loop.remove_reader(sp.a));
}

TYPED_TEST(Fd, Item55_RemoveReaderReportsWhetherOneWasRegistered) {
  qaio::EventLoop& loop = this->loop;
  SocketPair sp;
  EXPECT_FALSE(loop.remove_reader(sp.a));    // never registered
  EXPECT_FALSE(loop.remove_reader(100000));  // unknown fd
  loop.add_writer(sp.a, [] {});
  EXPECT_FALSE(loop.remove_reader(sp.a));    // a writer but no reader
  qaio::Handle r = loop.add_reader(sp.a, [] {});
  EXPECT_EQ(loop.watched_events(sp.a), R | W);
  EXPECT_TRUE(loop.remove_reader(sp.a));
  EXPECT_TRUE(r.cancelled());
  EXPECT_EQ(loop.watched_events(sp.a), W);  // the writer keeps the fd registered
  EXPECT_FALSE(loop.remove_reader(sp.a));
  EXPECT_TRUE(loop.remove_writer(sp.a));
  EXPECT_EQ(loop.watched_events(sp.a), 0);
}

TYPED_TEST(Fd, Item56_WriterSideMirrorsTheReaderSide) {
  qaio::EventLoop& loop = this->loop;
  SocketPair sp;
  int first_calls = 0, second_calls = 0;
  qaio::Handle r = loop.add_reader(sp.a, [] {});
  qaio::Handle w1 = loop.add_writer(sp.a, [&] { ++first_calls; });
  qaio::Handle w2 = loop.add_writer(sp.a, [&] {
    ++second_calls;
    loop.stop();
  });
  EXPECT_TRUE(w1.cancelled());
  EXPECT_FALSE(r.cancelled());
  EXPECT_TRUE(loop.reader_handle(sp.a) == r);
  EXPECT_EQ(loop.watched_events(sp.a), R | W);
  loop.run_forever();  // the socket is writable at once
  EXPECT_EQ(first_calls, 0);
  EXPECT_EQ(second_calls, 1);
  EXPECT_TRUE(loop.remove_writer(sp.a));
  EXPECT_FALSE(loop.remove_writer(sp.a));
  EXPECT_EQ(loop.watched_events(sp.a), R);
  EXPECT_TRUE(loop.remove_reader(sp.a));
}

TYPED_TEST(Fd, Item57_ReaderSeesDataAsItArrivesAndRemovesItselfAtEof) {
  qaio::EventLoop& loop = this->loop;
  SocketPair sp;
  std::vector<std::string> chunks;
  bool removed = false;
  loop.add_reader(sp.a, [&] {
    char buf[64];
    ssize_t n = ::read(sp.a, buf, sizeof buf);
    if (n > 0) {
      chunks.emplace_back(buf, static_cast<std::size_t>(n));
      return;
    }
    removed = loop.remove_reader(sp.a);  // EOF
    loop.stop();
  });
  loop.call_soon([&] { ASSERT_EQ(::write(sp.b, "abc", 3), 3); });
  loop.call_later(0.05, [&] { ASSERT_EQ(::write(sp.b, "def", 3), 3); });
  loop.call_later(0.1, [&] { ::shutdown(sp.b, SHUT_WR); });
  loop.call_later(5, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(chunks, (std::vector<std::string>{"abc", "def"}));
  EXPECT_TRUE(removed);
  EXPECT_EQ(loop.watched_events(sp.a), 0);
}

TYPED_TEST(Fd, Item58_LevelTriggeredAndCancelledHandlesUnregister) {
  qaio::EventLoop& loop = this->loop;
  SocketPair sp;
  ASSERT_EQ(::write(sp.b, "x", 1), 1);  // never drained: readable on every iteration
  std::vector<std::uint64_t> iterations;
  loop.add_reader(sp.a, [&] {
    iterations.push_back(loop.iteration_count());
    if (iterations.size() == 3) loop.stop();
  });
  loop.run_forever();
  ASSERT_EQ(iterations.size(), 3u);
  EXPECT_EQ(iterations[1], iterations[0] + 1);
  EXPECT_EQ(iterations[2], iterations[1] + 1);

  // A cancelled reader handle: the event unregisters the fd instead of calling back.
  int calls = 0;
  qaio::Handle r = loop.add_reader(sp.a, [&] { ++calls; });
  r.cancel();
  EXPECT_EQ(loop.watched_events(sp.a), R);  // still registered until its event comes
  run_one_iteration(loop);
  run_one_iteration(loop);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(loop.watched_events(sp.a), 0);
  EXPECT_FALSE(loop.reader_handle(sp.a));

  qaio::Handle w = loop.add_writer(sp.a, [&] { ++calls; });
  w.cancel();
  run_one_iteration(loop);
  run_one_iteration(loop);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(loop.watched_events(sp.a), 0);
}
