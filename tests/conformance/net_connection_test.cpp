// net_connection_test.cpp: create_connection and create_server / Server (spec items 70-84).
#include <sys/socket.h>

#include "net_test_util.h"

using nettest::Fd;

QAIO_LOOP_SUITE(NetConnection);

namespace {
qaio::ProtocolFactory echo_factory() {
  return [] { return std::make_shared<nettest::Echo>(); };
}

qaio::Coro<std::string> roundtrip(std::shared_ptr<qaio::Transport> tr, std::shared_ptr<nettest::Recorder> proto,
                                  std::string msg) {
  tr->write(msg);
  auto arrived = [&] { return proto->data.size() >= msg.size(); };  // g++ 12: not beside co_await
  co_await nettest::wait_until(arrived);
  co_return proto->data;
}
}  // namespace

// 70: create_connection returns (transport, protocol) after connection_made ran; sockname is set.
TYPED_TEST(NetConnection, Item70_CreateConnection) {
  auto& loop = this->loop;
  auto server = loop.run_until_complete(loop.create_server(echo_factory(), "127.0.0.1", 0));
  std::uint16_t port = server->sockets().at(0).port();
  auto [tr, proto] = loop.run_until_complete(
      loop.create_connection([] { return std::make_shared<nettest::Recorder>(); }, "127.0.0.1", port));
  ASSERT_EQ(proto->events.size(), 1u);
  EXPECT_EQ(proto->events[0], "made");
  EXPECT_EQ(proto->transport, tr.get());
  auto sockname = tr->get_extra_info("sockname");
  ASSERT_TRUE(sockname);
  EXPECT_EQ(sockname.address().host(), "127.0.0.1");
  EXPECT_EQ(tr->get_extra_info("peername").address().port(), port);
  EXPECT_GE(tr->get_extra_info("socket").fd(), 0);
  EXPECT_FALSE(tr->get_extra_info("no such key"));
  EXPECT_EQ(loop.run_until_complete(roundtrip(tr, proto, "ping")), "ping");
  tr->close();
  server->close();
  loop.run_until_complete(server->wait_closed());
  EXPECT_EQ(proto->lost, 1);
}

// 71: argument errors of create_connection.
TYPED_TEST(NetConnection, Item71_CreateConnectionArgumentErrors) {
  auto& loop = this->loop;
  Fd udp(qaio::open_socket(AF_INET, SOCK_DGRAM));
  Fd tcp(qaio::open_socket(AF_INET, SOCK_STREAM));
  EXPECT_THROW(loop.run_until_complete(loop.create_connection(echo_factory(), "127.0.0.1", 80, {.sock = tcp.get()})),
               std::invalid_argument);
  EXPECT_THROW(loop.run_until_complete(loop.create_connection(echo_factory(), qaio::ConnectionOptions{})),
               std::invalid_argument);
  try {
    loop.run_until_complete(loop.create_connection(echo_factory(), {.sock = udp.get()}));
    ADD_FAILURE() << "a datagram socket was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("A Stream Socket was expected"), std::string::npos);
  }
}

// 72: when name resolution gives nothing usable, create_connection raises an OSError.
TYPED_TEST(NetConnection, Item72_NoAddressIsOSError) {
  auto& loop = this->loop;
  EXPECT_THROW(loop.run_until_complete(loop.create_connection(echo_factory(), "127.0.0.1", 80, {.family = AF_INET6})),
               qaio::OSError);
}

// 73: every address fails: one OSError "Multiple exceptions: ..." when they differ; with
// all_errors an ExceptionGroup of them all.
TYPED_TEST(NetConnection, Item73_AllAddressesFail) {
  auto& loop = this->loop;
  // Host "" (None) resolves to both ::1 and 127.0.0.1; nobody listens on the port.
  std::uint16_t port = nettest::unused_port();
  try {
    loop.run_until_complete(loop.create_connection(echo_factory(), "", port));
    ADD_FAILURE() << "connected to a closed port";
  } catch (const qaio::OSError& e) {
    std::string what = e.what();
    EXPECT_EQ(what.rfind("Multiple exceptions: ", 0), 0u) << what;
    EXPECT_NE(what.find("127.0.0.1"), std::string::npos) << what;
    EXPECT_NE(what.find("::1"), std::string::npos) << what;
  }
  try {
    loop.run_until_complete(loop.create_connection(echo_factory(), "", port, {.all_errors = true}));
    ADD_FAILURE() << "connected to a closed port";
  } catch (const qaio::ExceptionGroup& g) {
    ASSERT_EQ(g.exceptions().size(), 2u);
    for (auto& e : g.exceptions()) EXPECT_THROW(std::rethrow_exception(e), qaio::ConnectionRefusedError);
  }
  // A single address: its own error, unchanged.
  EXPECT_THROW(loop.run_until_complete(loop.create_connection(echo_factory(), "127.0.0.1", port)),
               qaio::ConnectionRefusedError);
}

// 74: a failed attempt closes the socket it created.
TYPED_TEST(NetConnection, Item74_FailedConnectClosesSocket) {
  auto& loop = this->loop;
  std::uint16_t port = nettest::unused_port();
  nettest::spin(loop);
  int before = nettest::open_fd_count();
  for (int i = 0; i < 20; ++i) {
    EXPECT_THROW(loop.run_until_complete(loop.create_connection(echo_factory(), "127.0.0.1", port)),
                 qaio::ConnectionRefusedError);
  }
  EXPECT_EQ(nettest::open_fd_count(), before);
}

// 75: local_addr is honoured; in use is EADDRINUSE naming the address; another family fails.
TYPED_TEST(NetConnection, Item75_LocalAddr) {
  auto& loop = this->loop;
  auto server = loop.run_until_complete(loop.create_server(echo_factory(), "127.0.0.1", 0));
  std::uint16_t port = server->sockets().at(0).port();
  std::uint16_t local_port = nettest::unused_port();
  auto [tr, proto] = loop.run_until_complete(loop.create_connection(
      echo_factory(), "127.0.0.1", port, {.local_addr = qaio::SocketAddress("127.0.0.1", local_port)}));
  EXPECT_EQ(tr->get_extra_info("sockname").address().port(), local_port);
  // The same local address again: in use.
  try {
    loop.run_until_complete(loop.create_connection(echo_factory(), "127.0.0.1", port,
                                                   {.local_addr = qaio::SocketAddress("127.0.0.1", local_port)}));
    ADD_FAILURE() << "bound an address in use";
  } catch (const qaio::OSError& e) {
    EXPECT_EQ(e.errnum(), EADDRINUSE);
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(local_port)), std::string::npos) << e.what();
  }
  EXPECT_THROW(loop.run_until_complete(loop.create_connection(echo_factory(), "127.0.0.1", port,
                                                              {.local_addr = qaio::SocketAddress("::1", 0)})),
               qaio::OSError);
  tr->close();
  server->close();
  loop.run_until_complete(server->wait_closed());
}

// 77: a server's protocol sees connection_made then data_received, with both addresses;
// transport.close() leads to connection_lost.
TYPED_TEST(NetConnection, Item77_CreateServer) {
  auto& loop = this->loop;
  std::vector<std::shared_ptr<nettest::Recorder>> made;
  auto server = loop.run_until_complete(loop.create_server(
      [&] {
        auto p = std::make_shared<nettest::Recorder>();
        made.push_back(p);
        return p;
      },
      "0.0.0.0", 0));
  ASSERT_EQ(server->sockets().size(), 1u);
  std::uint16_t port = server->sockets()[0].port();
  Fd c(qaio::open_socket(AF_INET, SOCK_STREAM));
  loop.run_until_complete(loop.sock_connect(c.get(), qaio::SocketAddress("127.0.0.1", port)));
  loop.run_until_complete(loop.sock_sendall(c.get(), "xxx"));
  loop.run_until_complete(nettest::wait_until([&] { return !made.empty() && made[0]->data == "xxx"; }));
  ASSERT_EQ(made.size(), 1u);
  auto& p = *made[0];
  EXPECT_EQ(p.events, (std::vector<std::string>{"made", "data"}));
  EXPECT_EQ(p.transport->get_extra_info("sockname").address().port(), port);
  EXPECT_EQ(p.transport->get_extra_info("peername").address(), qaio::SocketAddress::local_of(c.get()));
  p.transport->close();
  loop.run_until_complete(nettest::wait_until([&] { return p.lost == 1; }));
  EXPECT_EQ(p.events.back(), "lost");
  EXPECT_EQ(p.lost_exc, nullptr);
  EXPECT_EQ(loop.run_until_complete(loop.sock_recv(c.get(), 10)), "");
  server->close();
  loop.run_until_complete(server->wait_closed());
}

// 78: create_server(sock=) serves on that fd; wrong or conflicting arguments are rejected.
TYPED_TEST(NetConnection, Item78_CreateServerSock) {
  auto& loop = this->loop;
  int l = nettest::listener();
  auto server = loop.run_until_complete(loop.create_server(echo_factory(), {.sock = l}));
  ASSERT_EQ(server->sockets().size(), 1u);
  EXPECT_EQ(server->sockets()[0].fd(), l);
  auto [tr, proto] = loop.run_until_complete(
      loop.create_connection([] { return std::make_shared<nettest::Recorder>(); }, "127.0.0.1", nettest::port_of(l)));
  EXPECT_EQ(loop.run_until_complete(roundtrip(tr, proto, "via sock")), "via sock");
  tr->close();
  server->close();
  loop.run_until_complete(server->wait_closed());

  Fd udp(qaio::open_socket(AF_INET, SOCK_DGRAM));
  try {
    loop.run_until_complete(loop.create_server(echo_factory(), {.sock = udp.get()}));
    ADD_FAILURE();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("A Stream Socket was expected"), std::string::npos);
  }
  Fd l2(nettest::listener());
  EXPECT_THROW(loop.run_until_complete(loop.create_server(echo_factory(), "127.0.0.1", 0, {.sock = l2.get()})),
               std::invalid_argument);
  EXPECT_THROW(loop.run_until_complete(loop.create_server(echo_factory(), qaio::ServerOptions{})),
               std::invalid_argument);
}

// 79: a port in use is EADDRINUSE, and the socket created for the attempt is closed.
TYPED_TEST(NetConnection, Item79_AddressInUse) {
  auto& loop = this->loop;
  Fd l(nettest::listener());
  nettest::spin(loop);
  int before = nettest::open_fd_count();
  try {
    loop.run_until_complete(loop.create_server(echo_factory(), "127.0.0.1", nettest::port_of(l.get())));
    ADD_FAILURE() << "bound a port in use";
  } catch (const qaio::OSError& e) {
    EXPECT_EQ(e.errnum(), EADDRINUSE);
  }
  EXPECT_EQ(nettest::open_fd_count(), before);
}

// 80: host "" is every interface (dual stack here: IPv4 and IPv6); several hosts give one socket
// per unique address.
TYPED_TEST(NetConnection, Item80_HostsAndDualStack) {
  auto& loop = this->loop;
  auto any = loop.run_until_complete(loop.create_server(echo_factory(), "", 0));
  std::vector<int> families;
  for (auto& s : any->sockets()) families.push_back(s.family());
  EXPECT_EQ(families.size(), 2u);
  EXPECT_NE(std::find(families.begin(), families.end(), AF_INET), families.end());
  EXPECT_NE(std::find(families.begin(), families.end(), AF_INET6), families.end());
  any->close();
  auto same = loop.run_until_complete(
      loop.create_server(echo_factory(), std::vector<std::string>{"127.0.0.1", "127.0.0.1"}, 0));
  EXPECT_EQ(same->sockets().size(), 1u);
  same->close();
  auto both = loop.run_until_complete(
      loop.create_server(echo_factory(), std::vector<std::string>{"127.0.0.1", "::1"}, 0));
  EXPECT_EQ(both->sockets().size(), 2u);
  both->close();
  loop.run_until_complete(both->wait_closed());
}

// 82: after close() the port refuses connections; get_loop() is the loop.
TYPED_TEST(NetConnection, Item82_ServerClose) {
  auto& loop = this->loop;
  auto server = loop.run_until_complete(loop.create_server(echo_factory(), "127.0.0.1", 0));
  EXPECT_EQ(&server->get_loop(), &loop);
  std::uint16_t port = server->sockets().at(0).port();
  EXPECT_TRUE(server->is_serving());
  server->close();
  EXPECT_FALSE(server->is_serving());
  EXPECT_TRUE(server->sockets().empty());
  Fd c(qaio::open_socket(AF_INET, SOCK_STREAM));
  EXPECT_THROW(loop.run_until_complete(loop.sock_connect(c.get(), qaio::SocketAddress("127.0.0.1", port))),
               qaio::ConnectionRefusedError);
}

namespace {
qaio::Coro<void> serve_then_cancel(qaio::EventLoop& loop, std::shared_ptr<qaio::Server> server) {
  EXPECT_FALSE(server->is_serving());
  qaio::Task<void> forever = loop.create_task(server->serve_forever());
  co_await qaio::sleep(0.01);
  EXPECT_TRUE(server->is_serving());
  forever.cancel();
  try {
    co_await forever;
  } catch (const qaio::CancelledError&) {
  }
  EXPECT_TRUE(forever.cancelled());
  EXPECT_TRUE(server->sockets().empty());
  EXPECT_FALSE(server->is_serving());
  try {
    co_await server->serve_forever();
    ADD_FAILURE() << "serve_forever on a closed server";
  } catch (const qaio::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("is closed"), std::string::npos);
  }
}
}  // namespace

// 83: start_serving=false waits for start_serving()/serve_forever(); cancelling serve_forever
// closes the server; serve_forever on a closed server is RuntimeError.
TYPED_TEST(NetConnection, Item83_StartServingAndServeForever) {
  auto& loop = this->loop;
  auto server = loop.run_until_complete(loop.create_server(echo_factory(), "127.0.0.1", 0, {.start_serving = false}));
  EXPECT_FALSE(server->is_serving());
  loop.run_until_complete(server->start_serving());
  EXPECT_TRUE(server->is_serving());
  server->close();
  auto server2 = loop.run_until_complete(loop.create_server(echo_factory(), "127.0.0.1", 0, {.start_serving = false}));
  loop.run_until_complete(serve_then_cancel(loop, server2));
}

namespace {
qaio::Coro<void> wait_closed_sequence(qaio::EventLoop& loop, std::shared_ptr<qaio::Server> server,
                                      std::shared_ptr<nettest::Recorder>* accepted) {
  std::uint16_t port = server->sockets().at(0).port();
  auto [tr, proto] = co_await loop.create_connection(echo_factory(), "127.0.0.1", port);
  auto accepted_one = [&] { return *accepted != nullptr; };  // g++ 12: not beside co_await
  co_await nettest::wait_until(accepted_one);
  qaio::Task<void> waiting = loop.create_task(server->wait_closed());
  co_await qaio::sleep(0.01);
  EXPECT_FALSE(waiting.done()) << "wait_closed returned while the server is open";
  server->close();
  co_await qaio::sleep(0.01);
  EXPECT_FALSE(waiting.done()) << "wait_closed returned while a connection is open";
  (*accepted)->transport->close();
  co_await waiting;
  tr->close();
  co_await server->wait_closed();  // at once, now
}
}  // namespace

// 84: wait_closed waits for close() and for every accepted connection, then returns at once.
TYPED_TEST(NetConnection, Item84_WaitClosed) {
  auto& loop = this->loop;
  std::shared_ptr<nettest::Recorder> accepted;
  auto server = loop.run_until_complete(loop.create_server(
      [&] {
        accepted = std::make_shared<nettest::Recorder>();
        return accepted;
      },
      "127.0.0.1", 0));
  loop.run_until_complete(wait_closed_sequence(loop, server, &accepted));
  EXPECT_EQ(server->active_count(), 0u);
}

// Server.close_clients / abort_clients (3.13) close what the server accepted.
TYPED_TEST(NetConnection, ServerCloseAndAbortClients) {
  auto& loop = this->loop;
  std::vector<std::shared_ptr<nettest::Recorder>> accepted;
  auto server = loop.run_until_complete(loop.create_server(
      [&] {
        accepted.push_back(std::make_shared<nettest::Recorder>());
        return accepted.back();
      },
      "127.0.0.1", 0));
  std::uint16_t port = server->sockets().at(0).port();
  auto [t1, p1] = loop.run_until_complete(
      loop.create_connection([] { return std::make_shared<nettest::Recorder>(); }, "127.0.0.1", port));
  auto [t2, p2] = loop.run_until_complete(
      loop.create_connection([] { return std::make_shared<nettest::Recorder>(); }, "127.0.0.1", port));
  loop.run_until_complete(nettest::wait_until([&] { return accepted.size() == 2; }));
  server->close();
  server->close_clients();
  loop.run_until_complete(server->wait_closed());
  // Copies: clang 14 cannot capture structured bindings.
  loop.run_until_complete(nettest::wait_until([q1 = p1, q2 = p2] { return q1->lost && q2->lost; }));
  EXPECT_EQ(p1->eof, 1);
  t1->close();
  t2->close();
  nettest::spin(loop, 0.01);
}

// connect_accepted_socket wraps an fd accepted elsewhere.
TYPED_TEST(NetConnection, ConnectAcceptedSocket) {
  auto& loop = this->loop;
  Fd l(nettest::listener());
  Fd c(qaio::open_socket(AF_INET, SOCK_STREAM));
  loop.run_until_complete(loop.sock_connect(c.get(), qaio::SocketAddress("127.0.0.1", nettest::port_of(l.get()))));
  auto [conn, addr] = loop.run_until_complete(loop.sock_accept(l.get()));
  auto [tr, proto] = loop.run_until_complete(loop.connect_accepted_socket(echo_factory(), conn));
  loop.run_until_complete(loop.sock_sendall(c.get(), "echo me"));
  std::string got;
  while (got.size() < 7) got += loop.run_until_complete(loop.sock_recv(c.get(), 64));
  EXPECT_EQ(got, "echo me");
  tr->close();
  nettest::spin(loop, 0.01);
}
