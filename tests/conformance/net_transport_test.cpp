// net_transport_test.cpp: the socket transport's state machine (spec items 87-93), observed
// through the public API with a real peer socket.
#include <sys/socket.h>

#include "net_test_util.h"

using nettest::Fd;

QAIO_LOOP_SUITE(NetTransport);

namespace {
// A connected (transport, recorder) and the raw peer fd, through connect_accepted_socket.
struct Pair {
  std::shared_ptr<qaio::Transport> tr;
  std::shared_ptr<nettest::Recorder> proto;
  Fd peer;
};

Pair make_pair(qaio::EventLoop& loop, std::shared_ptr<nettest::Recorder> proto = nullptr) {
  if (!proto) proto = std::make_shared<nettest::Recorder>();
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) throw std::runtime_error("socketpair");
  auto [tr, p] = loop.run_until_complete(loop.connect_accepted_socket([proto] { return proto; }, sv[0]));
  Pair out;
  out.tr = tr;
  out.proto = proto;
  out.peer.fd = sv[1];
  return out;
}

void send_peer(int fd, std::string_view s) { ASSERT_EQ(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size())); }

std::string drain_peer(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}
}  // namespace

// 87: pause/resume_reading are idempotent; is_reading tracks them and is false after close; a
// pause made in connection_made holds.
TYPED_TEST(NetTransport, Item87_PauseResumeReading) {
  auto& loop = this->loop;
  auto held = std::make_shared<nettest::Recorder>();
  held->pause_in_connection_made = true;
  Pair p = make_pair(loop, held);
  EXPECT_FALSE(p.tr->is_reading());
  send_peer(p.peer.get(), "abc");
  nettest::spin(loop, 0.02);
  EXPECT_EQ(p.proto->data, "") << "data arrived while paused in connection_made";
  p.tr->resume_reading();
  p.tr->resume_reading();
  EXPECT_TRUE(p.tr->is_reading());
  loop.run_until_complete(nettest::wait_until([&] { return p.proto->data == "abc"; }));
  p.tr->pause_reading();
  p.tr->pause_reading();
  EXPECT_FALSE(p.tr->is_reading());
  send_peer(p.peer.get(), "def");
  nettest::spin(loop, 0.02);
  EXPECT_EQ(p.proto->data, "abc");
  p.tr->resume_reading();
  loop.run_until_complete(nettest::wait_until([&] { return p.proto->data == "abcdef"; }));
  p.tr->close();
  EXPECT_FALSE(p.tr->is_reading());
  p.tr->resume_reading();  // no effect after close
  EXPECT_FALSE(p.tr->is_reading());
  nettest::spin(loop, 0.01);
  EXPECT_EQ(p.proto->lost, 1);
}

// 88: EOF calls eof_received and then closes, unless it returned true; a reset peer ends the
// connection with ConnectionResetError and nothing reaches the exception handler.
TYPED_TEST(NetTransport, Item88_EofAndReset) {
  auto& loop = this->loop;
  this->capture_errors();
  {
    Pair p = make_pair(loop);
    ::shutdown(p.peer.get(), SHUT_WR);
    loop.run_until_complete(nettest::wait_until([&] { return p.proto->lost == 1; }));
    EXPECT_EQ(p.proto->events, (std::vector<std::string>{"made", "eof", "lost"}));
    EXPECT_EQ(p.proto->lost_exc, nullptr);
  }
  {
    auto keep = std::make_shared<nettest::Recorder>();
    keep->keep_open_on_eof = true;
    Pair p = make_pair(loop, keep);
    ::shutdown(p.peer.get(), SHUT_WR);
    loop.run_until_complete(nettest::wait_until([&] { return p.proto->eof == 1; }));
    nettest::spin(loop, 0.02);
    EXPECT_EQ(p.proto->lost, 0) << "closed although eof_received() returned true";
    EXPECT_FALSE(p.tr->is_closing());
    p.tr->write("still writing");  // half-closed: writing still works
    nettest::spin(loop, 0.01);
    EXPECT_EQ(drain_peer(p.peer.get()), "still writing");
    p.tr->close();
    nettest::spin(loop, 0.01);
    EXPECT_EQ(p.proto->lost, 1);
  }
  {
    // A real TCP reset: linger 0 on close.
    auto server_side = std::make_shared<nettest::Recorder>();
    auto server = loop.run_until_complete(loop.create_server([&] { return server_side; }, "127.0.0.1", 0));
    Fd c(qaio::open_socket(AF_INET, SOCK_STREAM));
    loop.run_until_complete(loop.sock_connect(c.get(), qaio::SocketAddress("127.0.0.1", server->sockets()[0].port())));
    loop.run_until_complete(nettest::wait_until([&] { return server_side->transport != nullptr; }));
    linger lg{1, 0};
    ::setsockopt(c.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    c.reset();
    loop.run_until_complete(nettest::wait_until([&] { return server_side->lost == 1; }));
    ASSERT_NE(server_side->lost_exc, nullptr);
    EXPECT_THROW(std::rethrow_exception(server_side->lost_exc), qaio::ConnectionResetError);
    server->close();
    loop.run_until_complete(server->wait_closed());
  }
  EXPECT_TRUE(this->errors.empty()) << this->errors.front().message;
}

// 89: write() sends at once when nothing is buffered; the rest of a partial send is buffered;
// later writes queue behind it; write("") does nothing.
TYPED_TEST(NetTransport, Item89_WriteBuffering) {
  auto& loop = this->loop;
  Pair p = make_pair(loop);
  p.tr->write("now");
  EXPECT_EQ(p.tr->get_write_buffer_size(), 0u) << "a small write on an idle socket is sent at once";
  EXPECT_EQ(drain_peer(p.peer.get()), "now");
  p.tr->write("");
  EXPECT_EQ(p.tr->get_write_buffer_size(), 0u);
  std::string big(4 << 20, 'b');
  p.tr->write(big);
  std::size_t buffered = p.tr->get_write_buffer_size();
  EXPECT_GT(buffered, 0u) << "4 MiB cannot fit in a socket buffer";
  EXPECT_LT(buffered, big.size());
  p.tr->write("tail");
  EXPECT_EQ(p.tr->get_write_buffer_size(), buffered + 4) << "writes behind a buffer are appended, not sent";
  std::string got;
  loop.run_until_complete(nettest::wait_until([&] {
    got += drain_peer(p.peer.get());
    return got.size() == big.size() + 4;
  }));
  EXPECT_TRUE(got == big + "tail");
  EXPECT_EQ(p.tr->get_write_buffer_size(), 0u);
  p.tr->close();
  nettest::spin(loop, 0.01);
}

// 91: close() is idempotent, connection_lost runs once, and only after the buffer was flushed.
TYPED_TEST(NetTransport, Item91_CloseFlushesThenLosesOnce) {
  auto& loop = this->loop;
  Pair p = make_pair(loop);
  std::string big(2 << 20, 'c');
  p.tr->write(big);
  ASSERT_GT(p.tr->get_write_buffer_size(), 0u);
  p.tr->close();
  p.tr->close();
  EXPECT_TRUE(p.tr->is_closing());
  nettest::spin(loop, 0.01);
  EXPECT_EQ(p.proto->lost, 0) << "connection_lost before the buffer was flushed";
  std::string got;
  loop.run_until_complete(nettest::wait_until([&] {
    got += drain_peer(p.peer.get());
    return p.proto->lost == 1;
  }));
  got += drain_peer(p.peer.get());
  EXPECT_EQ(got.size(), big.size());
  EXPECT_EQ(p.proto->lost_exc, nullptr);
  nettest::spin(loop, 0.01);
  EXPECT_EQ(p.proto->lost, 1);
  // abort() drops the buffer instead.
  Pair q = make_pair(loop);
  q.tr->write(big);
  q.tr->abort();
  EXPECT_EQ(q.tr->get_write_buffer_size(), 0u);
  loop.run_until_complete(nettest::wait_until([&] { return q.proto->lost == 1; }));
  EXPECT_LT(drain_peer(q.peer.get()).size(), big.size());
}

// 92: write_eof shuts down writing once, after the buffer drains; after close it does nothing.
TYPED_TEST(NetTransport, Item92_WriteEof) {
  auto& loop = this->loop;
  Pair p = make_pair(loop);
  EXPECT_TRUE(p.tr->can_write_eof());
  std::string big(2 << 20, 'e');
  p.tr->write(big);
  p.tr->write_eof();
  p.tr->write_eof();
  EXPECT_THROW(p.tr->write("x"), qaio::RuntimeError);
  std::string got;
  bool eof = false;
  loop.run_until_complete(nettest::wait_until([&] {
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(p.peer.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0) {
        eof = true;
        break;
      }
      if (n < 0) break;
      got.append(buf, static_cast<std::size_t>(n));
    }
    return eof;
  }));
  EXPECT_EQ(got.size(), big.size());
  // Still readable after our half-close.
  send_peer(p.peer.get(), "reply");
  loop.run_until_complete(nettest::wait_until([&] { return p.proto->data == "reply"; }));
  p.tr->close();
  EXPECT_NO_THROW(p.tr->write_eof());
  nettest::spin(loop, 0.01);
}

// 93: write flow control: limits are checked, reported as (low, high), and lowering high below
// the buffered size pauses the protocol at once; draining below low resumes it.
TYPED_TEST(NetTransport, Item93_WriteFlowControl) {
  auto& loop = this->loop;
  Pair p = make_pair(loop);
  EXPECT_THROW(p.tr->set_write_buffer_limits(0, 1), std::invalid_argument);
  auto [low0, high0] = p.tr->get_write_buffer_limits();
  EXPECT_EQ(high0, 64u * 1024);
  EXPECT_EQ(low0, 16u * 1024);
  p.tr->set_write_buffer_limits(std::nullopt, 100);
  EXPECT_EQ(p.tr->get_write_buffer_limits(), std::make_pair(std::size_t{100}, std::size_t{400}));
  p.tr->set_write_buffer_limits(1 << 30, 1 << 20);
  std::string big(4 << 20, 'f');
  p.tr->write(big);
  ASSERT_GT(p.tr->get_write_buffer_size(), 1024u);
  EXPECT_EQ(p.proto->paused, 0);
  p.tr->set_write_buffer_limits(1024, 512);
  EXPECT_EQ(p.proto->paused, 1) << "lowering high below the buffer size pauses at once";
  std::string got;
  loop.run_until_complete(nettest::wait_until([&] {
    got += drain_peer(p.peer.get());
    return p.proto->resumed == 1;
  }));
  EXPECT_LE(p.tr->get_write_buffer_size(), 512u);
  p.tr->close();
  loop.run_until_complete(nettest::wait_until([&] {
    got += drain_peer(p.peer.get());
    return p.proto->lost == 1;
  }));
  got += drain_peer(p.peer.get());
  EXPECT_EQ(got.size(), big.size());
}

// BufferedProtocol: the transport reads straight into the protocol's buffer.
TYPED_TEST(NetTransport, BufferedProtocolReadsIntoBuffer) {
  auto& loop = this->loop;
  struct Buffered : qaio::BufferedProtocol {
    std::array<std::byte, 7> buf{};
    std::string got;
    int lost = 0;
    std::span<std::byte> get_buffer(long) override { return buf; }
    void buffer_updated(std::size_t n) override { got.append(reinterpret_cast<const char*>(buf.data()), n); }
    void connection_lost(std::exception_ptr) override { ++lost; }
  };
  auto proto = std::make_shared<Buffered>();
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  Fd peer(sv[1]);
  auto [tr, p] = loop.run_until_complete(loop.connect_accepted_socket([proto] { return proto; }, sv[0]));
  std::string msg = "a message longer than seven bytes";
  send_peer(peer.get(), msg);
  peer.reset();
  loop.run_until_complete(nettest::wait_until([&] { return proto->lost == 1; }));
  EXPECT_EQ(proto->got, msg);
}

// Pipes: connect_read_pipe / connect_write_pipe move bytes and report EOF.
TYPED_TEST(NetTransport, ReadAndWritePipes) {
  auto& loop = this->loop;
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  auto reader = std::make_shared<nettest::Recorder>();
  auto writer = std::make_shared<nettest::Recorder>();
  auto [rt, rp] = loop.run_until_complete(loop.connect_read_pipe([reader] { return reader; }, fds[0]));
  auto [wt, wp] = loop.run_until_complete(loop.connect_write_pipe([writer] { return writer; }, fds[1]));
  EXPECT_EQ(rt->get_extra_info("pipe").fd(), fds[0]);
  EXPECT_THROW(rt->write("x"), qaio::RuntimeError);
  std::string big(1 << 20, 'p');
  wt->write(big);
  wt->write_eof();  // closes the write end once flushed
  loop.run_until_complete(nettest::wait_until([&] { return reader->lost == 1 && writer->lost == 1; }));
  EXPECT_EQ(reader->data.size(), big.size());
  EXPECT_EQ(reader->eof, 1);
  // A write pipe whose reader went away: BrokenPipe, never SIGPIPE.
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  auto w2 = std::make_shared<nettest::Recorder>();
  auto [wt2, wp2] = loop.run_until_complete(loop.connect_write_pipe([w2] { return w2; }, fds[1]));
  ::close(fds[0]);
  wt2->write("into the void");
  loop.run_until_complete(nettest::wait_until([&] { return w2->lost == 1; }));
}

// Datagram endpoints: datagrams keep their boundaries and senders.
TYPED_TEST(NetTransport, DatagramEndpoint) {
  auto& loop = this->loop;
  struct Dgram : qaio::DatagramProtocol {
    qaio::DatagramTransport* tr = nullptr;
    std::vector<std::pair<std::string, qaio::SocketAddress>> got;
    int lost = 0;
    bool echo = false;
    void connection_made(qaio::Transport& t) override { tr = static_cast<qaio::DatagramTransport*>(&t); }
    void datagram_received(std::string_view d, const qaio::SocketAddress& a) override {
      got.emplace_back(std::string(d), a);
      if (echo) tr->sendto(d, a);
    }
    void connection_lost(std::exception_ptr) override { ++lost; }
  };
  auto server = std::make_shared<Dgram>();
  server->echo = true;
  auto [st, sp] = loop.run_until_complete(loop.create_datagram_endpoint(
      [server] { return server; }, {.local_addr = qaio::SocketAddress("127.0.0.1", 0)}));
  qaio::SocketAddress where = st->get_extra_info("sockname").address();
  auto client = std::make_shared<Dgram>();
  auto [ct, cp] = loop.run_until_complete(
      loop.create_datagram_endpoint([client] { return client; }, {.remote_addr = where}));
  ct->sendto("one");
  ct->sendto("two");
  loop.run_until_complete(nettest::wait_until([&] { return client->got.size() == 2; }));
  EXPECT_EQ(client->got[0].first, "one");
  EXPECT_EQ(client->got[1].first, "two");
  EXPECT_EQ(server->got[0].second, ct->get_extra_info("sockname").address());
  EXPECT_THROW(ct->sendto("x", qaio::SocketAddress("127.0.0.1", 9)), std::invalid_argument);
  ct->close();
  st->close();
  loop.run_until_complete(nettest::wait_until([&] { return client->lost == 1 && server->lost == 1; }));
}
