// main.cpp: qaio-chat-server, the standalone IRC chat server (SelectorEventLoop, no Qt).
//
//   qaio-chat-server [--host 127.0.0.1] [--port 6667] [--log-level info] [--name qaio.chat]
//                    [--ping-interval 90] [--ping-timeout 60] [--registration-timeout 30]
//                    [--max-sendq 1048576]
//
// Prints "listening on HOST:PORT" on stdout once it accepts connections (with --port 0 the port
// the kernel chose), so scripts and tests can wait for it. SIGINT/SIGTERM stop it gracefully:
// clients get a NOTICE and an ERROR, their sockets are flushed and closed, then it exits 0.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>

#include "log.h"
#include "net_server.h"
#include "qaio/qaio.h"
#include "qaio/streams.h"
#include "qaio/timeouts.h"

using namespace chat::server;

namespace {

struct Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6667;
  ServerConfig config;
  std::size_t max_sendq = 1 << 20;
};

[[noreturn]] void usage(const char* prog, int rc) {
  std::fprintf(rc ? stderr : stdout,
               "usage: %s [--host H] [--port P] [--log-level debug|info|warning|error] [--name SERVERNAME]\n"
               "          [--ping-interval S] [--ping-timeout S] [--registration-timeout S] [--max-sendq BYTES]\n",
               prog);
  std::exit(rc);
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") usage(argv[0], 0);
    if (i + 1 >= argc) usage(argv[0], 2);
    std::string v = argv[++i];
    try {
      if (a == "--host") {
        o.host = v;
      } else if (a == "--port") {
        unsigned long p = std::stoul(v);
        if (p > 65535) throw std::out_of_range("port");
        o.port = static_cast<std::uint16_t>(p);
      } else if (a == "--log-level") {
        LogLevel lv;
        if (!parse_log_level(v, lv)) usage(argv[0], 2);
        set_log_level(lv);
      } else if (a == "--name") {
        o.config.server_name = v;
      } else if (a == "--ping-interval") {
        o.config.ping_interval = std::stod(v);
      } else if (a == "--ping-timeout") {
        o.config.ping_timeout = std::stod(v);
      } else if (a == "--registration-timeout") {
        o.config.registration_timeout = std::stod(v);
      } else if (a == "--max-sendq") {
        o.max_sendq = std::stoul(v);
      } else {
        usage(argv[0], 2);
      }
    } catch (const std::logic_error&) {
      std::fprintf(stderr, "%s: bad value for %s: %s\n", argv[0], a.c_str(), v.c_str());
      std::exit(2);
    }
  }
  return o;
}

// SIGINT/SIGTERM become loop callbacks (loop.add_signal_handler), so the shutdown runs as ordinary
// coroutine code; the handlers are removed (and the previous dispositions restored) on the way out.
// SIGINT replaces qaio::run's own handler, which would cancel the main task instead of draining.
class SignalWatch {
 public:
  SignalWatch(qaio::EventLoop& loop, qaio::Future<int> fired) : loop_(loop) {
    for (int sig : {SIGINT, SIGTERM}) {
      loop_.add_signal_handler(sig, [fired, sig] {
        if (!fired.done()) fired.set_result(sig);
      });
    }
  }
  ~SignalWatch() {
    loop_.remove_signal_handler(SIGINT);
    loop_.remove_signal_handler(SIGTERM);
  }
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

 private:
  qaio::EventLoop& loop_;
};

std::string today() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

qaio::Coro<int> serve(Options opts) {
  qaio::EventLoop& loop = qaio::get_running_loop();
  qaio::Future<int> signalled = loop.create_future<int>();
  SignalWatch signals(loop, signalled);
  opts.config.created = today();
  NetServer net(loop, opts.config, opts.max_sendq);

  qaio::ServerOptions server_options;
  server_options.backlog = 4096;  // a thousand clients may connect in the same millisecond
  auto server = co_await qaio::start_server(
      [&net](qaio::StreamReader r, qaio::StreamWriter w) { return net.serve_client(std::move(r), std::move(w)); },
      opts.host, opts.port, qaio::kDefaultStreamLimit, server_options);
  for (const qaio::ServerSocket& s : server->sockets()) {
    std::printf("listening on %s\n", s.address().to_string().c_str());
  }
  std::fflush(stdout);
  log(LogLevel::info, "serving as " + opts.config.server_name);

  double tick = std::min(1.0, std::min(opts.config.ping_interval, opts.config.ping_timeout) / 4);
  qaio::Task<void> ticker = loop.create_task(net.tick_forever(tick), "tick");

  int sig = co_await signalled;
  log(LogLevel::info, std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ", shutting down");
  server->close();  // stop accepting first, so nobody joins a server that is leaving
  net.shutdown(sig == SIGINT ? "SIGINT" : "SIGTERM");
  ticker.cancel();
  bool clean = true;
  try {
    co_await qaio::timeout(3.0, server->wait_closed());
  } catch (const qaio::TimeoutError&) {
    clean = false;
  }
  if (!clean) {
    log(LogLevel::warning, "some clients did not close within 3 s; aborting them");
    server->abort_clients();
  }
  log(LogLevel::info, "bye");
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opts = parse_args(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;  // one fd per client: lift the soft limit to what we are allowed
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  try {
    return qaio::run(serve(std::move(opts)));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qaio-chat-server: %s\n", e.what());
    return 1;
  }
}
