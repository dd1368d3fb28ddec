// bench/echo_asio.cpp: W4's echo server on standalone asio with C++20 coroutines, the way the
// asio examples write it: one coroutine per connection, async_read_some then async_write.
//
//   bench_echo_asio <port>
#include <asio.hpp>
#include <cstdio>
#include <cstdlib>

namespace {

asio::awaitable<void> echo(asio::ip::tcp::socket socket) {
  char data[65536];
  try {
    for (;;) {
      std::size_t n = co_await socket.async_read_some(asio::buffer(data), asio::use_awaitable);
      co_await asio::async_write(socket, asio::buffer(data, n), asio::use_awaitable);
    }
  } catch (const std::exception&) {
    // EOF or reset: the connection is done.
  }
}

asio::awaitable<void> listener(unsigned short port) {
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::acceptor acceptor(executor, {asio::ip::make_address("127.0.0.1"), port});
  std::printf("READY %u\n", port);
  std::fflush(stdout);
  for (;;) {
    asio::ip::tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
    socket.set_option(asio::ip::tcp::no_delay(true));
    asio::co_spawn(executor, echo(std::move(socket)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <port>\n", argv[0]);
    return 2;
  }
  asio::io_context io(1);
  asio::co_spawn(io, listener(static_cast<unsigned short>(std::atoi(argv[1]))), asio::detached);
  io.run();
}
