// main.cpp: qaio-chat-load, the chat server's load test: N clients (one process, one
// SelectorEventLoop, qaio streams) join one channel, then each sends M messages; every client
// must receive every message of the others ((N-1)*M; IRC does not echo a sender's own messages,
// so with its own M each client accounts for all N*M). Prints the timings; exit 1 on any loss.
// A client that cannot connect, or loses its connection, fails the run at once with its error
// instead of after --timeout.
//
//   qaio-chat-load --port P [--host H] [--clients 1000] [--messages 10] [--timeout 300]
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "chat/line_splitter.h"
#include "qaio/qaio.h"
#include "qaio/streams.h"
#include "qaio/sync.h"
#include "qaio/timeouts.h"

namespace {

struct Config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6667;
  int clients = 1000;
  int messages = 10;
  double timeout = 300;
};

struct Shared {
  Config cfg;
  int joined = 0;
  int finished = 0;
  long long delivered = 0;
  qaio::Event all_joined;  // also set by fail(): the wait for it must end
  qaio::Event all_done;    // likewise
  std::vector<qaio::StreamWriter> writers;
  std::string error;  // the first client failure; the run has failed if not empty
  int failed_clients = 0;

  // One client that cannot connect, or loses its connection, means the run has failed: end both
  // waits now instead of sitting out the whole --timeout, which would only hide why.
  void fail(std::string why) {
    ++failed_clients;
    if (error.empty()) error = std::move(why);
    all_joined.set();
    all_done.set();
  }
};

qaio::Coro<void> session(Shared* sh, int i, bool* connected) {
  auto conn = co_await qaio::open_connection(sh->cfg.host, sh->cfg.port, 1 << 20);
  *connected = true;
  qaio::StreamReader reader = conn.first;
  sh->writers[static_cast<std::size_t>(i)] = conn.second;
  std::string nick = "load" + std::to_string(i);
  conn.second.write("NICK " + nick + "\r\nUSER " + nick + " 0 * :load\r\nJOIN #load\r\n");
  const long long expected = static_cast<long long>(sh->cfg.clients - 1) * sh->cfg.messages;
  long long got = 0;
  bool joined = false;
  chat::LineSplitter splitter;
  std::vector<chat::LineSplitter::Piece> lines;
  while (got < expected) {
    std::string data = co_await reader.read(1 << 16);
    if (data.empty()) throw qaio::ConnectionResetError(ECONNRESET, nick + ": server closed the connection");
    lines.clear();
    splitter.feed(data, lines);
    for (const auto& p : lines) {
      if (!joined && p.line.find(" 366 " + nick + " ") != std::string::npos) {
        joined = true;
        if (++sh->joined == sh->cfg.clients) sh->all_joined.set();
      } else if (p.line.find(" PRIVMSG #load :") != std::string::npos) {
        ++got;
        ++sh->delivered;
      } else if (p.line.rfind("PING ", 0) == 0) {
        conn.second.write("PONG " + p.line.substr(5) + "\r\n");
      } else if (p.line.rfind("ERROR", 0) == 0) {
        throw qaio::ConnectionResetError(ECONNRESET, nick + ": " + p.line);
      }
    }
  }
  if (++sh->finished == sh->cfg.clients) sh->all_done.set();
  co_await qaio::sleep(0);  // keep the connection until everyone is done: a QUIT would be noise
  co_await sh->all_done.wait();
  conn.second.close();
}

// A client: its session, with a failure reported to the run (see Shared::fail) rather than left in
// the task for run_load to find once the timeout has passed.
qaio::Coro<void> client(Shared* sh, int i) {
  bool connected = false;
  try {
    co_await session(sh, i, &connected);
  } catch (const qaio::CancelledError&) {
    throw;
  } catch (const std::exception& e) {
    const std::string who = "client " + std::to_string(i);
    const std::string where = sh->cfg.host + ":" + std::to_string(sh->cfg.port);
    sh->fail(connected ? who + ": " + e.what() : who + " cannot connect to " + where + ": " + e.what());
  }
}

qaio::Coro<int> run_load(Config cfg) {
  qaio::EventLoop& loop = qaio::get_running_loop();
  Shared sh;
  sh.cfg = cfg;
  sh.writers.resize(static_cast<std::size_t>(cfg.clients));
  double t0 = loop.time();
  std::vector<qaio::Task<void>> tasks;
  for (int i = 0; i < cfg.clients; ++i) {
    tasks.push_back(loop.create_task(client(&sh, i)));
    if (i % 50 == 49) co_await qaio::sleep(0.01);  // pace the connects a little: the accept backlog is finite
  }
  bool ok = true;
  try {
    co_await qaio::timeout(cfg.timeout, sh.all_joined.wait());
  } catch (const qaio::TimeoutError&) {
    ok = false;
  }
  if (!ok || !sh.error.empty()) {
    if (!sh.error.empty()) {
      std::printf("FAILED: %s (%d of %d clients joined)\n", sh.error.c_str(), sh.joined, cfg.clients);
    } else {
      std::printf("FAILED: only %d of %d clients joined within %.0f s\n", sh.joined, cfg.clients, cfg.timeout);
    }
    for (auto& t : tasks) t.cancel();
    for (auto& t : tasks) {
      try {
        co_await t;
      } catch (const qaio::CancelledError&) {
      }
    }
    co_return 1;
  }
  double t1 = loop.time();
  for (int k = 0; k < cfg.messages; ++k)
    for (int i = 0; i < cfg.clients; ++i)
      sh.writers[static_cast<std::size_t>(i)].write("PRIVMSG #load :" + std::to_string(i) + " " + std::to_string(k) + "\r\n");
  // Progress every 5 s, so a slow run shows where it is.
  qaio::Task<void> progress = loop.create_task([](Shared* s) -> qaio::Coro<void> {
    for (;;) {
      co_await qaio::sleep(5);
      std::printf("  ... %lld deliveries, %d clients done\n", s->delivered, s->finished);
      std::fflush(stdout);
    }
  }(&sh));
  bool timed_out = false;
  try {
    co_await qaio::timeout(cfg.timeout, sh.all_done.wait());
  } catch (const qaio::TimeoutError&) {
    timed_out = true;
  }
  double t2 = loop.time();
  progress.cancel();
  // A failed client ends the wait early (Shared::fail); the others cannot all finish then.
  ok = !timed_out && sh.error.empty();
  if (!sh.error.empty()) std::printf("client error: %s\n", sh.error.c_str());
  for (auto& t : tasks) {
    if (!ok && !t.done()) t.cancel();
    try {
      co_await t;
    } catch (const qaio::CancelledError&) {
    }
  }
  const int failed = sh.failed_clients;
  const long long expected = static_cast<long long>(cfg.clients) * (cfg.clients - 1) * cfg.messages;
  std::printf("clients %d, messages each %d: connect+register+join %.2f s; %lld of %lld deliveries in %.2f s "
              "(%.0f lines/s)%s\n",
              cfg.clients, cfg.messages, t1 - t0, sh.delivered, expected, t2 - t1, sh.delivered / std::max(t2 - t1, 1e-9),
              ok && failed == 0 && sh.delivered == expected ? "" : "  FAILED");
  if (!ok || failed) std::printf("timed out: %d, failed clients: %d\n", timed_out, failed);
  co_return ok && failed == 0 && sh.delivered == expected ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--host") cfg.host = v;
    else if (a == "--port") cfg.port = static_cast<std::uint16_t>(std::stoul(v));
    else if (a == "--clients") cfg.clients = std::stoi(v);
    else if (a == "--messages") cfg.messages = std::stoi(v);
    else if (a == "--timeout") cfg.timeout = std::stod(v);
    else {
      std::fprintf(stderr, "usage: %s --port P [--host H] [--clients N] [--messages M] [--timeout S]\n", argv[0]);
      return 2;
    }
  }
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;  // a thousand sockets need more than the usual 1024 soft limit
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  return qaio::run(run_load(cfg));
}
