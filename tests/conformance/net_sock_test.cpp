// net_sock_test.cpp: low-level socket operations (spec items 60-65) on real loopback sockets.
#include <sys/socket.h>

#include <thread>

#include "net_test_util.h"

using nettest::Fd;

QAIO_LOOP_SUITE(NetSock);

// 60: in debug mode every sock_* call rejects a blocking socket.
TYPED_TEST(NetSock, Item60_DebugRejectsBlockingSocket) {
  auto& loop = this->loop;
  loop.set_debug(true);
  Fd s(::socket(AF_INET, SOCK_STREAM, 0));  // blocking
  Fd l(nettest::listener());
  auto expect_rejected = [&](auto make) {
    try {
      loop.run_until_complete(make());
      ADD_FAILURE() << "no error for a blocking socket";
    } catch (const std::invalid_argument& e) {
      EXPECT_STREQ(e.what(), "the socket must be non-blocking");
    }
  };
  std::byte buf[4];
  expect_rejected([&] { return loop.sock_connect(s.get(), qaio::SocketAddress("127.0.0.1", nettest::port_of(l.get()))); });
  expect_rejected([&] { return loop.sock_sendall(s.get(), "x"); });
  expect_rejected([&] { return loop.sock_recv(s.get(), 4); });
  expect_rejected([&] { return loop.sock_recv_into(s.get(), std::span<std::byte>(buf)); });
  qaio::set_blocking(l.get(), true);
  expect_rejected([&] { return loop.sock_accept(l.get()); });
}

namespace {
qaio::Coro<std::string> client_ops(qaio::EventLoop& loop, int fd, std::uint16_t port) {
  co_await loop.sock_connect(fd, qaio::SocketAddress("127.0.0.1", port));
  co_await loop.sock_sendall(fd, "GET / HTTP/1.0\r\n\r\n");
  std::string all;
  for (;;) {
    std::string d = co_await loop.sock_recv(fd, 1024);
    if (d.empty()) break;  // EOF is "" (item 61)
    all += d;
  }
  co_return all;
}
}  // namespace

// 61: connect, sendall, recv against a plain blocking peer in a thread; "" at EOF.
TYPED_TEST(NetSock, Item61_ConnectSendallRecv) {
  auto& loop = this->loop;
  Fd l(nettest::listener());
  qaio::set_blocking(l.get(), true);
  std::string got_request;
  std::thread peer([&] {
    int c = ::accept(l.get(), nullptr, nullptr);
    char buf[256];
    while (got_request.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      got_request.append(buf, static_cast<std::size_t>(n));
    }
    const char reply[] = "HTTP/1.0 200 OK\r\n\r\nhello";
    ::send(c, reply, sizeof reply - 1, MSG_NOSIGNAL);
    ::close(c);
  });
  Fd c(qaio::open_socket(AF_INET, SOCK_STREAM));
  std::string reply = loop.run_until_complete(client_ops(loop, c.get(), nettest::port_of(l.get())));
  peer.join();
  EXPECT_EQ(got_request, "GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(reply, "HTTP/1.0 200 OK\r\n\r\nhello");
}

namespace {
qaio::Coro<void> cancel_then_retry_recv(qaio::EventLoop& loop, int fd, int peer, bool into, std::string* out) {
  qaio::Task<std::string> pending = loop.create_task([](qaio::EventLoop& l, int f, bool use_into) -> qaio::Coro<std::string> {
    if (use_into) {
      std::byte buf[64];
      std::size_t n = co_await l.sock_recv_into(f, std::span<std::byte>(buf));
      co_return std::string(reinterpret_cast<const char*>(buf), n);
    }
    co_return co_await l.sock_recv(f, 64);
  }(loop, fd, into));
  co_await qaio::sleep(0.01);
  EXPECT_FALSE(pending.done());
  pending.cancel();
  try {
    co_await pending;
  } catch (const qaio::CancelledError&) {
  }
  EXPECT_TRUE(pending.cancelled());
  EXPECT_FALSE(loop.remove_reader(fd)) << "a cancelled recv must leave no reader behind";
  ::send(peer, "after", 5, MSG_NOSIGNAL);
  *out = co_await loop.sock_recv(fd, 64);
}
}  // namespace

// 62: cancelling a pending sock_recv / sock_recv_into leaves the socket usable and unwatched.
TYPED_TEST(NetSock, Item62_CancelRecvLeavesSocketUsable) {
  auto& loop = this->loop;
  for (bool into : {false, true}) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    Fd a(sv[0]), b(sv[1]);
    std::string got;
    loop.run_until_complete(cancel_then_retry_recv(loop, a.get(), b.get(), into, &got));
    EXPECT_EQ(got, "after");
  }
}

namespace {
qaio::Coro<void> cancel_then_retry_sendall(qaio::EventLoop& loop, int fd, int peer, std::size_t* drained) {
  // Fill the socket buffer so that sendall has to wait for the peer.
  std::string chunk(65536, 'x');
  while (::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) > 0) {
  }
  qaio::Task<void> pending = loop.create_task(loop.sock_sendall(fd, std::string(1 << 20, 'y')));
  co_await qaio::sleep(0.01);
  EXPECT_FALSE(pending.done());
  pending.cancel();
  try {
    co_await pending;
  } catch (const qaio::CancelledError&) {
  }
  EXPECT_FALSE(loop.remove_writer(fd)) << "a cancelled sendall must leave no writer behind";
  // Drain the peer in the background, then a new sendall completes.
  qaio::Task<void> drain = loop.create_task([](qaio::EventLoop& l, int p, std::size_t* n) -> qaio::Coro<void> {
    for (;;) {
      std::string d = co_await l.sock_recv(p, 65536);
      if (d.empty()) break;
      *n += d.size();
      if (d.back() == '!') break;
    }
  }(loop, peer, drained));
  co_await loop.sock_sendall(fd, "done!");
  co_await drain;
}
}  // namespace

TYPED_TEST(NetSock, Item62_CancelSendallLeavesSocketUsable) {
  auto& loop = this->loop;
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  Fd a(sv[0]), b(sv[1]);
  std::size_t drained = 0;
  loop.run_until_complete(cancel_then_retry_sendall(loop, a.get(), b.get(), &drained));
  EXPECT_GT(drained, 5u);
}

namespace {
qaio::Coro<std::string> recv_exactly(qaio::EventLoop& loop, int fd, std::size_t total) {
  std::string got;
  while (got.size() < total) {
    std::string d = co_await loop.sock_recv(fd, 65536);
    if (d.empty()) break;
    got += d;
  }
  co_return got;
}
qaio::Coro<std::string> huge(qaio::EventLoop& loop, int a, int b, std::string payload) {
  qaio::Task<std::string> reader = loop.create_task(recv_exactly(loop, b, payload.size()));
  co_await loop.sock_sendall(a, payload);
  co_return co_await reader;
}
}  // namespace

// 63: 1 MB sock_sendall alongside a sock_recv loop delivers every byte, in order.
TYPED_TEST(NetSock, Item63_HugeContent) {
  auto& loop = this->loop;
  Fd l(nettest::listener());
  Fd c(qaio::open_socket(AF_INET, SOCK_STREAM));
  loop.run_until_complete(loop.sock_connect(c.get(), qaio::SocketAddress("127.0.0.1", nettest::port_of(l.get()))));
  auto [conn, peer] = loop.run_until_complete(loop.sock_accept(l.get()));
  Fd s(conn);
  std::string payload(1 << 20, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>((i * 7 + i / 251) & 0xff);
  std::string got = loop.run_until_complete(huge(loop, c.get(), s.get(), payload));
  EXPECT_EQ(got.size(), payload.size());
  EXPECT_TRUE(got == payload);
}

// 64: connecting to a port nobody listens on raises ConnectionRefusedError.
TYPED_TEST(NetSock, Item64_ConnectRefused) {
  auto& loop = this->loop;
  Fd c(qaio::open_socket(AF_INET, SOCK_STREAM));
  std::uint16_t port = nettest::unused_port();
  EXPECT_THROW(loop.run_until_complete(loop.sock_connect(c.get(), qaio::SocketAddress("127.0.0.1", port))),
               qaio::ConnectionRefusedError);
}

namespace {
qaio::Coro<void> accept_then_cancel(qaio::EventLoop& loop, int l) {
  qaio::Task<std::pair<int, qaio::SocketAddress>> t = loop.create_task(loop.sock_accept(l));
  co_await qaio::sleep(0.01);
  t.cancel();
  try {
    co_await t;
  } catch (const qaio::CancelledError&) {
  }
}
}  // namespace

// 65: sock_accept gives a non-blocking conn and the client's own address; a cancelled accept
// leaves the listener unregistered.
TYPED_TEST(NetSock, Item65_AcceptAndCancelledAccept) {
  auto& loop = this->loop;
  Fd l(nettest::listener());
  Fd c(qaio::open_socket(AF_INET, SOCK_STREAM));
  loop.run_until_complete(loop.sock_connect(c.get(), qaio::SocketAddress("127.0.0.1", nettest::port_of(l.get()))));
  auto [conn, addr] = loop.run_until_complete(loop.sock_accept(l.get()));
  Fd s(conn);
  EXPECT_FALSE(qaio::is_blocking(conn));
  EXPECT_EQ(addr, qaio::SocketAddress::local_of(c.get()));
  EXPECT_EQ(addr.to_string(), qaio::SocketAddress::local_of(c.get()).to_string());

  loop.run_until_complete(accept_then_cancel(loop, l.get()));
  EXPECT_FALSE(loop.remove_reader(l.get())) << "the cancelled accept left a reader registered";
  // The listener still works afterwards.
  Fd c2(qaio::open_socket(AF_INET, SOCK_STREAM));
  loop.run_until_complete(loop.sock_connect(c2.get(), qaio::SocketAddress("127.0.0.1", nettest::port_of(l.get()))));
  auto [conn2, addr2] = loop.run_until_complete(loop.sock_accept(l.get()));
  Fd s2(conn2);
  EXPECT_EQ(addr2, qaio::SocketAddress::local_of(c2.get()));
}

// getaddrinfo/getnameinfo go through the executor and return value types.
TYPED_TEST(NetSock, GetaddrinfoAndGetnameinfo) {
  auto& loop = this->loop;
  auto infos = loop.run_until_complete(loop.getaddrinfo("localhost", "80", {.type = SOCK_STREAM}));
  ASSERT_FALSE(infos.empty());
  bool v4 = false;
  for (auto& ai : infos) {
    EXPECT_EQ(ai.address.port(), 80);
    v4 = v4 || ai.address.to_string() == "127.0.0.1:80";
  }
  EXPECT_TRUE(v4);
  auto [host, serv] = loop.run_until_complete(loop.getnameinfo(qaio::SocketAddress("127.0.0.1", 80), NI_NUMERICHOST | NI_NUMERICSERV));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(serv, "80");
  EXPECT_THROW(loop.run_until_complete(loop.getaddrinfo("127.0.0.1", "80", {.family = AF_INET6})), qaio::OSError);
  qaio::SocketAddress six("::1", 443);
  EXPECT_EQ(six.to_string(), "[::1]:443");
  EXPECT_EQ(qaio::SocketAddress::unix_path("/tmp/x.sock").path(), "/tmp/x.sock");
  EXPECT_THROW(qaio::SocketAddress("not-an-ip", 1), std::invalid_argument);
}
