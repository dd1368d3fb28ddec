// bench/echo_qaio.cpp: W4's echo server on qaio, with either API and either driver:
//
//   bench_echo_qaio <standalone|qt|qt-dispatcher|qt-linger|qt-probe|qt-linger-probe> <protocol|streams> <port>
//
// qt-dispatcher is qt with qaio::qt::EventDispatcher installed instead of Qt's own dispatcher.
// qt-linger is qt with QtEventLoop::set_io_linger(kLinger) (docs/qt.md, "I/O linger").
// qt-probe is W5 for W4: under Qt with a 5 ms QTimer measuring lateness (lateness_probe.h); on
// SIGTERM it prints the probe's RESULT line (workload name from $QAIO_BENCH_W5_NAME) and exits.
// qt-linger-probe is qt-probe with the linger.
// protocol: a qaio::Protocol whose data_received writes the bytes back (asyncio's EchoProtocol).
// streams:  one task per connection: read(64 KiB), write, drain, like asyncio's stream echo.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "qaio/protocols.h"
#include "qaio/qaio.h"
#include "qaio/server.h"
#include "qaio/streams.h"
#include "qaio/transports.h"

#if defined(QAIO_BENCH_WITH_QT) && __has_include(<qaio/qt/qt_event_loop.h>)
#include <QCoreApplication>
#include <csignal>

#include "lateness_probe.h"
#include "qaio/qt/event_dispatcher.h"
#include "qaio/qt/qt_event_loop.h"
#define QAIO_BENCH_QT_AVAILABLE 1
#endif

namespace {
// The linger of the qt-linger modes: long enough for the next request of a closed-loop client on
// the same core (a few microseconds), short against the 4 ms time slice.
constexpr double kLinger = 0.001;

class EchoProtocol : public qaio::Protocol {
 public:
  void connection_made(qaio::Transport& transport) override { transport_ = &transport; }
  void data_received(std::string_view data) override { transport_->write(data); }

 private:
  qaio::Transport* transport_ = nullptr;
};

qaio::Coro<void> echo_stream(qaio::StreamReader reader, qaio::StreamWriter writer) {
  try {
    for (;;) {
      std::string data = co_await reader.read(65536);
      if (data.empty()) break;
      writer.write(data);
      co_await writer.drain();
    }
  } catch (const std::exception& e) {
    // A reset connection ends this handler; the benchmark only measures live ones.
    if (std::getenv("QAIO_BENCH_VERBOSE")) std::fprintf(stderr, "echo handler: %s\n", e.what());
  }
  writer.close();
}

std::shared_ptr<qaio::BaseProtocol> make_echo() { return std::make_shared<EchoProtocol>(); }

qaio::Coro<void> serve(qaio::EventLoop* loop, std::string api, std::uint16_t port) {
  qaio::ServerOptions options;
  options.backlog = 4096;
  std::shared_ptr<qaio::Server> server;
  if (api == "protocol") {
    server = co_await loop->create_server(make_echo, "127.0.0.1", port, options);
  } else {
    server = co_await qaio::start_server(echo_stream, "127.0.0.1", port, qaio::kDefaultStreamLimit, options);
  }
  std::printf("READY %u\n", static_cast<unsigned>(port));
  std::fflush(stdout);
  co_await server->serve_forever();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s <standalone|qt|qt-dispatcher|qt-linger|qt-probe|qt-linger-probe> <protocol|streams> <port>\n",
                 argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const std::string api = argv[2];
  const auto port = static_cast<std::uint16_t>(std::atoi(argv[3]));
  if (api != "protocol" && api != "streams") return 2;
  try {
    if (mode == "standalone") {
      qaio::SelectorEventLoop loop;
      qaio::set_event_loop(&loop);
      loop.run_until_complete(serve(&loop, api, port));
      return 0;
    }
#ifdef QAIO_BENCH_QT_AVAILABLE
    if (mode == "qt" || mode == "qt-dispatcher" || mode == "qt-linger") {
      if (mode == "qt-dispatcher") qaio::qt::install_event_dispatcher();
      int qargc = 1;
      QCoreApplication app(qargc, argv);
      qaio::qt::QtEventLoop loop;
      if (mode == "qt-linger") loop.set_io_linger(kLinger);
      qaio::set_event_loop(&loop);
      loop.run_until_complete(serve(&loop, api, port));
      return 0;
    }
    if (mode == "qt-probe" || mode == "qt-linger-probe") {
      int qargc = 1;
      QCoreApplication app(qargc, argv);
      qaio::qt::QtEventLoop loop;
      if (mode == "qt-linger-probe") loop.set_io_linger(kLinger);
      qaio::set_event_loop(&loop);
      bench::LatenessProbe probe;
      loop.call_soon([&probe] { probe.arm(); });
      const char* name = std::getenv("QAIO_BENCH_W5_NAME");
      const std::string workload = name ? name : "w4";
      loop.add_signal_handler(SIGTERM, [&probe, workload] {
        probe.report(workload);
        std::_Exit(0);  // the server has no state worth a clean shutdown
      });
      loop.run_until_complete(serve(&loop, api, port));
      return 0;
    }
#endif
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "mode '%s' not available\n", mode.c_str());
  return 4;
}
