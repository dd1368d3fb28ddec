// net_streams_test.cpp: StreamReader / StreamWriter (spec items 139-147), fed directly as in
// CPython's test_streams and over real loopback connections.
#include <sys/socket.h>

#include "net_test_util.h"

QAIO_LOOP_SUITE(NetStreams);

namespace {
qaio::Coro<void> feed_later(qaio::StreamReader r, std::vector<std::string> chunks, bool eof) {
  for (auto& c : chunks) {
    co_await qaio::sleep(0);
    r.feed_data(c);
  }
  if (eof) r.feed_eof();
}

qaio::Coro<std::string> read_n(qaio::StreamReader r, long n) { co_return co_await r.read(n); }
}  // namespace

// 139: read(n) returns what is buffered (up to n) without waiting for n; read(0) is ""; read(-1)
// reads to EOF; "" at EOF; the limit does not apply to read.
TYPED_TEST(NetStreams, Item139_Read) {
  auto& loop = this->loop;
  qaio::StreamReader r(3);
  r.feed_data("line1\nline2\n");
  EXPECT_EQ(loop.run_until_complete(read_n(r, 0)), "");
  EXPECT_EQ(r.buffered(), 12u);
  EXPECT_EQ(loop.run_until_complete(read_n(r, 5)), "line1");
  EXPECT_EQ(loop.run_until_complete(read_n(r, 100)), "\nline2\n") << "read(n) must not wait for n bytes";
  loop.create_task(feed_later(r, {"chunk1\n", "chunk2\n"}, true));
  EXPECT_EQ(loop.run_until_complete(read_n(r, -1)), "chunk1\nchunk2\n");
  EXPECT_EQ(loop.run_until_complete(read_n(r, 10)), "");
  EXPECT_TRUE(r.at_eof());
}

namespace {
qaio::Coro<std::string> readline(qaio::StreamReader r) { co_return co_await r.readline(); }
}  // namespace

// 140: readline collects across chunks, keeps the rest buffered, returns the partial line at EOF,
// then ""; at_eof only once EOF was fed and the buffer is empty.
TYPED_TEST(NetStreams, Item140_Readline) {
  auto& loop = this->loop;
  qaio::StreamReader r;
  r.feed_data("chk");
  loop.create_task(feed_later(r, {"chunk1 ", "chunk2 ", "chunk3 \n chunk4"}, false));
  EXPECT_EQ(loop.run_until_complete(readline(r)), "chkchunk1 chunk2 chunk3 \n");
  EXPECT_EQ(r.buffered(), 7u);
  EXPECT_FALSE(r.at_eof());
  r.feed_eof();
  EXPECT_FALSE(r.at_eof()) << "data is still buffered";
  EXPECT_EQ(loop.run_until_complete(readline(r)), " chunk4");
  EXPECT_TRUE(r.at_eof());
  EXPECT_EQ(loop.run_until_complete(readline(r)), "");
}

// 141: a line over the limit is std::invalid_argument (ValueError) and is discarded; exactly
// `limit` bytes plus "\n" is fine; limit <= 0 is rejected.
TYPED_TEST(NetStreams, Item141_ReadlineLimit) {
  auto& loop = this->loop;
  EXPECT_THROW(qaio::StreamReader(0), std::invalid_argument);
  EXPECT_THROW(qaio::StreamReader(-1), std::invalid_argument);
  qaio::StreamReader r(7);
  r.feed_data("1234567\n");  // exactly the limit, plus the newline
  EXPECT_EQ(loop.run_until_complete(readline(r)), "1234567\n");
  r.feed_data("12345678\nnext\n");
  EXPECT_THROW(loop.run_until_complete(readline(r)), std::invalid_argument);
  EXPECT_EQ(loop.run_until_complete(readline(r)), "next\n") << "the long line was not discarded";
  r.feed_data("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");  // no newline at all
  EXPECT_THROW(loop.run_until_complete(readline(r)), std::invalid_argument);
  EXPECT_EQ(r.buffered(), 0u);
}

namespace {
qaio::Coro<std::string> readuntil(qaio::StreamReader r, std::vector<std::string> seps) {
  co_return co_await r.readuntil(std::move(seps));
}
}  // namespace

// 142: readuntil: empty separator is ValueError; EOF without it is IncompleteReadError with all
// the data and no expected size; past the limit LimitOverrunError keeps the buffer; with several
// separators the one that ends first wins.
TYPED_TEST(NetStreams, Item142_Readuntil) {
  auto& loop = this->loop;
  qaio::StreamReader r(10);
  EXPECT_THROW(loop.run_until_complete(readuntil(r, {""})), std::invalid_argument);
  EXPECT_THROW(loop.run_until_complete(readuntil(r, {})), std::invalid_argument);
  r.feed_data("lineAAA");
  loop.create_task(feed_later(r, {"xxxAAA"}, false));
  EXPECT_EQ(loop.run_until_complete(readuntil(r, {"AAA"})), "lineAAA");
  EXPECT_EQ(loop.run_until_complete(readuntil(r, {"AAA"})), "xxxAAA");
  qaio::StreamReader small(3);
  small.feed_data("some dataAA");  // the separator is found, but past the limit
  try {
    loop.run_until_complete(readuntil(small, {"AA"}));
    ADD_FAILURE();
  } catch (const qaio::LimitOverrunError& e) {
    EXPECT_NE(std::string(e.what()).find("is found"), std::string::npos);
    EXPECT_EQ(small.buffered(), 11u) << "LimitOverrunError must keep the buffer";
  }
  qaio::StreamReader none(3);
  none.feed_data("a longer chunk without it");
  try {
    loop.run_until_complete(readuntil(none, {"!"}));
    ADD_FAILURE();
  } catch (const qaio::LimitOverrunError& e) {
    EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos);
    EXPECT_EQ(none.buffered(), 25u);
  }
  r.feed_data("ab|cd");
  EXPECT_EQ(loop.run_until_complete(readuntil(r, {"cd", "|"})), "ab|") << "the separator that ends first wins";
  r.feed_eof();
  try {
    loop.run_until_complete(readuntil(r, {"!"}));
    ADD_FAILURE();
  } catch (const qaio::IncompleteReadError& e) {
    EXPECT_EQ(e.partial(), "cd");
    EXPECT_FALSE(e.expected().has_value());
  }
  EXPECT_EQ(r.buffered(), 0u);
}

namespace {
qaio::Coro<std::string> readexactly(qaio::StreamReader r, long n) { co_return co_await r.readexactly(n); }
}  // namespace

// 143: readexactly waits for exactly n and leaves the rest; 0 is ""; negative is ValueError; the
// limit is ignored; early EOF is IncompleteReadError("18 bytes read on a total of 36 expected bytes").
TYPED_TEST(NetStreams, Item143_Readexactly) {
  auto& loop = this->loop;
  qaio::StreamReader r(4);
  EXPECT_EQ(loop.run_until_complete(readexactly(r, 0)), "");
  EXPECT_THROW(loop.run_until_complete(readexactly(r, -1)), std::invalid_argument);
  std::string data = "chunk1\nchunk2\nchunk3\n";  // 21 bytes
  loop.create_task(feed_later(r, {data, data}, false));
  EXPECT_EQ(loop.run_until_complete(readexactly(r, 36)), (data + data).substr(0, 36));
  EXPECT_EQ(r.buffered(), 6u);
  loop.run_until_complete(read_n(r, 100));
  r.feed_data(data.substr(0, 18));
  r.feed_eof();
  try {
    loop.run_until_complete(readexactly(r, 36));
    ADD_FAILURE();
  } catch (const qaio::IncompleteReadError& e) {
    EXPECT_STREQ(e.what(), "18 bytes read on a total of 36 expected bytes");
    EXPECT_EQ(e.partial(), data.substr(0, 18));
    EXPECT_EQ(e.expected(), std::optional<std::size_t>(36));
  }
}

namespace {
qaio::Coro<void> exception_cases(qaio::EventLoop& loop) {
  qaio::StreamReader r;
  // A blocked reader wakes with the exception.
  qaio::Task<std::string> blocked = loop.create_task(readline(r));
  co_await qaio::sleep(0);
  r.set_exception(std::make_exception_ptr(std::invalid_argument("boom")));
  EXPECT_THROW(co_await blocked, std::invalid_argument);
  EXPECT_THROW(co_await r.read(1), std::invalid_argument);
  EXPECT_NE(r.exception(), nullptr);
  // set_exception after the pending reader was cancelled is safe.
  qaio::StreamReader r2;
  qaio::Task<std::string> t = loop.create_task(read_n(r2, 5));
  co_await qaio::sleep(0);
  t.cancel();
  co_await qaio::sleep(0);
  r2.set_exception(std::make_exception_ptr(qaio::RuntimeError("late")));
  EXPECT_TRUE(t.cancelled());
}
}  // namespace

// 144: set_exception wakes blocked readers and fails later reads; safe after a cancelled read;
// connection_lost(exc) makes pending reads raise exc.
TYPED_TEST(NetStreams, Item144_SetException) {
  auto& loop = this->loop;
  loop.run_until_complete(exception_cases(loop));
  qaio::StreamReader r;
  qaio::StreamReaderProtocol proto(r);
  qaio::Task<std::string> pending = loop.create_task(readline(r));
  nettest::spin(loop);
  proto.connection_lost(qaio::make_os_error(ECONNRESET));
  EXPECT_THROW(loop.run_until_complete(pending), qaio::ConnectionResetError);
}

namespace {
qaio::Coro<void> drain_cases(qaio::EventLoop& loop, std::uint16_t port, std::shared_ptr<std::string> received) {
  auto [reader, writer] = co_await qaio::open_connection("127.0.0.1", port);
  writer.transport()->set_write_buffer_limits(1024, 512);
  std::string big(10 << 20, 'd');
  writer.write(big);
  EXPECT_GT(writer.transport()->get_write_buffer_size(), 1024u);
  // Several concurrent drainers: all released on resume, and the buffer is back under low.
  qaio::Task<void> d1 = loop.create_task(writer.drain());
  qaio::Task<void> d2 = loop.create_task(writer.drain());
  co_await qaio::sleep(0.01);
  EXPECT_FALSE(d1.done()) << "drain returned while the peer reads nothing";
  *received = "start";  // tells the server to start reading
  co_await d1;
  co_await d2;
  EXPECT_LE(writer.transport()->get_write_buffer_size(), 512u);
  writer.close();
  co_await writer.wait_closed();
}
}  // namespace

// 146: drain() blocks above the high-water mark until the peer reads, releasing every drainer;
// a peer that went away makes drain() raise a connection error instead of hanging.
TYPED_TEST(NetStreams, Item146_Drain) {
  auto& loop = this->loop;
  auto received = std::make_shared<std::string>();
  auto total = std::make_shared<std::size_t>(0);
  auto server = loop.run_until_complete(qaio::start_server(
      [received, total](qaio::StreamReader r, qaio::StreamWriter w) -> qaio::Coro<void> {
        while (received->empty()) co_await qaio::sleep(0.005);
        for (;;) {
          std::string d = co_await r.read(1 << 20);
          if (d.empty()) break;
          *total += d.size();
        }
        w.close();
      },
      "127.0.0.1", 0));
  std::uint16_t port = server->sockets().at(0).port();
  loop.run_until_complete(drain_cases(loop, port, received));
  loop.run_until_complete(nettest::wait_until([&] { return *total == (10u << 20); }));
  EXPECT_EQ(*total, 10u << 20);

  // The peer resets: drain raises (ConnectionResetError or another ConnectionError).
  auto peer_gone = loop.run_until_complete(qaio::start_server(
      [](qaio::StreamReader, qaio::StreamWriter w) -> qaio::Coro<void> {
        w.transport()->abort();
        co_return;
      },
      "127.0.0.1", 0));
  auto drain_after_reset = [](std::uint16_t p) -> qaio::Coro<void> {
    auto [r, w] = co_await qaio::open_connection("127.0.0.1", p);
    co_await r.read();  // EOF: the server is gone
    std::string chunk(1 << 16, 'z');
    for (int i = 0; i < 1000; ++i) {
      w.write(chunk);
      co_await w.drain();  // must raise before long
    }
  };
  EXPECT_THROW(loop.run_until_complete(drain_after_reset(peer_gone->sockets().at(0).port())), qaio::ConnectionError);
  peer_gone->close();
  server->close();
  loop.run_until_complete(server->wait_closed());
}

namespace {
qaio::Coro<void> close_cases(std::uint16_t port) {
  auto [reader, writer] = co_await qaio::open_connection("127.0.0.1", port);
  writer.write("unread data the server never reads");
  writer.close();
  EXPECT_TRUE(writer.is_closing());
  co_await writer.wait_closed();
  writer.write("after close");
  EXPECT_THROW(co_await writer.drain(), qaio::ConnectionResetError);
  EXPECT_EQ(co_await reader.read(), "");
  EXPECT_TRUE(reader.at_eof());
}
}  // namespace

// 147: close() makes is_closing true and wait_closed completes even with unread data; write after
// close then drain is ConnectionResetError; the reader then reads "" (EOF).
TYPED_TEST(NetStreams, Item147_CloseAndWaitClosed) {
  auto& loop = this->loop;
  auto server = loop.run_until_complete(qaio::start_server(
      [](qaio::StreamReader, qaio::StreamWriter w) -> qaio::Coro<void> {
        co_await qaio::sleep(0.05);
        w.close();
      },
      "127.0.0.1", 0));
  loop.run_until_complete(close_cases(server->sockets().at(0).port()));
  server->close();
  loop.run_until_complete(server->wait_closed());
}

namespace {
qaio::Coro<std::string> echo_client(std::uint16_t port) {
  auto [r, w] = co_await qaio::open_connection("127.0.0.1", port);
  w.writelines({"hello ", "world\n"});
  co_await w.drain();
  std::string line = co_await r.readline();
  w.write_eof();
  std::string rest = co_await r.read();
  w.close();
  co_await w.wait_closed();
  co_return line + rest;
}
}  // namespace

// A streams echo server and client; half-close (write_eof, then keep reading).
TYPED_TEST(NetStreams, EchoWithHalfClose) {
  auto& loop = this->loop;
  auto server = loop.run_until_complete(qaio::start_server(
      [](qaio::StreamReader r, qaio::StreamWriter w) -> qaio::Coro<void> {
        std::string line = co_await r.readline();
        w.write(line);
        std::string tail = co_await r.read();  // until the client's EOF
        w.write("bye after " + std::to_string(tail.size()));
        co_await w.drain();
        w.close();
        co_await w.wait_closed();
      },
      "127.0.0.1", 0));
  EXPECT_EQ(loop.run_until_complete(echo_client(server->sockets().at(0).port())), "hello world\nbye after 0");
  server->close();
  loop.run_until_complete(server->wait_closed());
}

namespace {
qaio::Coro<std::string> unix_client(std::string path) {
  auto [r, w] = co_await qaio::open_unix_connection(path);
  w.write("over unix\n");
  std::string line = co_await r.readline();
  w.close();
  co_await w.wait_closed();
  co_return line;
}
}  // namespace

// Unix-domain streams: start_unix_server / open_unix_connection; the path goes with the server.
TYPED_TEST(NetStreams, UnixStreams) {
  auto& loop = this->loop;
  std::string path = "/tmp/qaio-net-test-" + std::to_string(::getpid()) + ".sock";
  auto server = loop.run_until_complete(qaio::start_unix_server(
      [](qaio::StreamReader r, qaio::StreamWriter w) -> qaio::Coro<void> {
        std::string line = co_await r.readline();
        w.write("echo: " + line);
        co_await w.drain();
        w.close();
      },
      path));
  EXPECT_EQ(server->sockets().at(0).address().path(), path);
  EXPECT_EQ(loop.run_until_complete(unix_client(path)), "echo: over unix\n");
  server->close();
  loop.run_until_complete(server->wait_closed());
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << "the socket file outlived its server";
}
