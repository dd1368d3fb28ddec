// net_interop_test.cpp: qaio against a peer nobody here wrote: CPython's asyncio from Debian's
// /usr/bin/python3 (tests/net/peers/asyncio_peer.py). Each case moves 64 MiB (16 MiB under
// AddressSanitizer) both ways at once and compares SHA-256 digests of what each side sent and
// received:
//   - a qaio streams client against a Python asyncio streams server;
//   - a Python client against a qaio server written with the protocol API;
//   - a Python client against a qaio streams server (start_server).
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "net_test_util.h"
#include "sha256.h"

extern char** environ;

QAIO_LOOP_SUITE(NetInterop);

namespace {
// Under AddressSanitizer every byte copied and hashed is checked (8.6 s a case instead of 0.8):
// 16 MiB each way is still 64 chunks and many times the socket buffers, so flow control and
// partial writes are exercised just the same.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t kSize = 16u << 20;
#else
constexpr std::size_t kSize = 64u << 20;
#endif
constexpr std::size_t kChunk = 256u << 10;
const char* kPython = "/usr/bin/python3";

// A running Python peer with its stdout readable line by line.
struct PythonPeer {
  pid_t pid = -1;
  FILE* out = nullptr;
  explicit PythonPeer(std::vector<std::string> args) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    std::string script = std::string(QAIO_NET_PEERS_DIR) + "/asyncio_peer.py";
    std::vector<std::string> all{kPython, script};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = ::posix_spawn(&pid, kPython, &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      throw std::runtime_error("cannot start /usr/bin/python3");
    }
    out = ::fdopen(fds[0], "r");
  }
  std::string line() {
    char buf[512];
    if (!std::fgets(buf, sizeof buf, out)) return {};
    std::string s(buf);
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }
  int wait() {
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  ~PythonPeer() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      wait();
    }
    if (out) std::fclose(out);
  }
};

struct Digests {
  std::string sent, recv;
  std::size_t received = 0;
};

// "recv <hex> sent <hex>" from the Python side must mirror ours.
void expect_mirrored(const std::string& python_line, const Digests& ours) {
  EXPECT_EQ(python_line, "recv " + ours.sent + " sent " + ours.recv);
  EXPECT_EQ(ours.received, kSize);
}

qaio::Coro<void> stream_send(qaio::StreamWriter w, Digests* d) {
  nettest::ByteSource src(42);
  nettest::Sha256 h;
  for (std::size_t left = kSize; left > 0;) {
    std::size_t n = std::min(kChunk, left);
    std::string chunk = src.next(n);
    h.update(chunk);
    w.write(chunk);
    co_await w.drain();
    left -= n;
  }
  w.write_eof();
  d->sent = h.hexdigest();
}

qaio::Coro<void> stream_receive(qaio::StreamReader r, Digests* d) {
  nettest::Sha256 h;
  for (;;) {
    std::string data = co_await r.read(kChunk);
    if (data.empty()) break;
    d->received += data.size();
    h.update(data);
  }
  d->recv = h.hexdigest();
}

qaio::Coro<void> stream_exchange(qaio::StreamReader r, qaio::StreamWriter w, Digests* d) {
  qaio::EventLoop& loop = qaio::get_running_loop();
  qaio::Task<void> tx = loop.create_task(stream_send(w, d));
  qaio::Task<void> rx = loop.create_task(stream_receive(r, d));
  co_await tx;
  co_await rx;
  w.close();
  co_await w.wait_closed();
}

qaio::Coro<void> qaio_client(std::uint16_t port, Digests* d) {
  auto [r, w] = co_await qaio::open_connection("127.0.0.1", port);
  co_await stream_exchange(r, w, d);
}

// The protocol-API server side: sends while the transport is not paused, hashes what arrives.
struct HashingProtocol : qaio::Protocol {
  qaio::Transport* t = nullptr;
  Digests* d;
  qaio::Future<> done;
  nettest::ByteSource src{7};
  nettest::Sha256 tx, rx;
  std::size_t left = kSize;
  bool paused = false, eof = false, sent_all = false;
  HashingProtocol(Digests* dd, qaio::Future<> f) : d(dd), done(std::move(f)) {}
  void connection_made(qaio::Transport& tr) override {
    t = &tr;
    pump();
  }
  void pump() {
    while (!paused && left > 0) {
      std::size_t n = std::min(kChunk, left);
      std::string chunk = src.next(n);
      tx.update(chunk);
      left -= n;
      t->write(chunk);  // may call pause_writing() synchronously
    }
    if (left == 0 && !sent_all) {
      sent_all = true;
      d->sent = tx.hexdigest();
      t->write_eof();
      maybe_finish();
    }
  }
  void pause_writing() override { paused = true; }
  void resume_writing() override {
    paused = false;
    pump();
  }
  void data_received(std::string_view data) override {
    d->received += data.size();
    rx.update(data);
  }
  bool eof_received() override {
    eof = true;
    d->recv = rx.hexdigest();
    maybe_finish();
    return true;  // keep writing until everything is out
  }
  void maybe_finish() {
    if (eof && sent_all) t->close();
  }
  void connection_lost(std::exception_ptr exc) override {
    if (done.done()) return;
    if (exc) {
      done.set_exception(exc);
    } else {
      done.set_result();
    }
  }
};

qaio::Coro<int> wait_exit(PythonPeer* peer) {
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(peer->pid, &status, WNOHANG);
    if (r == peer->pid) {
      peer->pid = -1;
      co_return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    co_await qaio::sleep(0.01);
  }
}
}  // namespace

TYPED_TEST(NetInterop, QaioStreamsClientAgainstPythonServer) {
  auto& loop = this->loop;
  ASSERT_EQ(::access(kPython, X_OK), 0) << "Debian's python3 is required";
  PythonPeer peer({"server", std::to_string(kSize)});
  std::string hello = peer.line();
  ASSERT_EQ(hello.rfind("port ", 0), 0u) << hello;
  auto port = static_cast<std::uint16_t>(std::stoi(hello.substr(5)));
  Digests d;
  double start = loop.time();
  loop.run_until_complete(qaio_client(port, &d));
  std::printf("[ figures  ] 2 x %zu MiB with Python's asyncio server in %.2f s\n", kSize >> 20, loop.time() - start);
  expect_mirrored(peer.line(), d);
  EXPECT_EQ(peer.wait(), 0);
}

TYPED_TEST(NetInterop, PythonClientAgainstQaioProtocolServer) {
  auto& loop = this->loop;
  ASSERT_EQ(::access(kPython, X_OK), 0) << "Debian's python3 is required";
  Digests d;
  qaio::Future<> done = loop.create_future();
  auto server = loop.run_until_complete(loop.create_server(
      [&] { return std::make_shared<HashingProtocol>(&d, done); }, "127.0.0.1", 0));
  PythonPeer peer({"client", std::to_string(server->sockets().at(0).port()), std::to_string(kSize)});
  loop.run_until_complete(done);
  EXPECT_EQ(loop.run_until_complete(wait_exit(&peer)), 0);
  expect_mirrored(peer.line(), d);
  server->close();
  loop.run_until_complete(server->wait_closed());
}

TYPED_TEST(NetInterop, PythonClientAgainstQaioStreamsServer) {
  auto& loop = this->loop;
  ASSERT_EQ(::access(kPython, X_OK), 0) << "Debian's python3 is required";
  Digests d;
  qaio::Future<> done = loop.create_future();
  auto server = loop.run_until_complete(qaio::start_server(
      [&d, done](qaio::StreamReader r, qaio::StreamWriter w) -> qaio::Coro<void> {
        co_await stream_exchange(r, w, &d);
        done.set_result();
      },
      "127.0.0.1", 0));
  PythonPeer peer({"client", std::to_string(server->sockets().at(0).port()), std::to_string(kSize)});
  loop.run_until_complete(done);
  EXPECT_EQ(loop.run_until_complete(wait_exit(&peer)), 0);
  expect_mirrored(peer.line(), d);
  server->close();
  loop.run_until_complete(server->wait_closed());
}
