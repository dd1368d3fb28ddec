// subprocess_transport.cpp: SubprocessTransport (asyncio's base_subprocess.BaseSubprocessTransport
// with its pipe protocols) and the loop's subprocess_exec / subprocess_shell.
//
// The child's pipes are ordinary pipe transports from connect_read_pipe/connect_write_pipe; small
// pipe protocols forward their events to the SubprocessTransport, which relays them to the user's
// SubprocessProtocol through call_soon. Until every pipe is connected those relays are queued
// (asyncio's _pending_calls) so the protocol sees connection_made first. The transport finishes
// (connection_lost, wait() returns) once the child exited AND every pipe closed.
#include <signal.h>

#include <array>
#include <cerrno>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "qaio/subprocess.h"
#include "subprocess_impl.h"

namespace qaio {

namespace detail {

namespace {

class UnixSubprocessTransport;

// asyncio's ReadSubprocessPipeProto / WriteSubprocessPipeProto in one.
class PipeProto final : public Protocol {
 public:
  PipeProto(std::shared_ptr<UnixSubprocessTransport> proc, int fd) : proc_(std::move(proc)), fd_(fd) {}
  void connection_lost(std::exception_ptr exc) override;
  void data_received(std::string_view data) override;
  void pause_writing() override;
  void resume_writing() override;

 private:
  std::shared_ptr<UnixSubprocessTransport> proc_;  // released once the pipe is lost
  int fd_;
};

class UnixSubprocessTransport final : public SubprocessTransport {
 public:
  UnixSubprocessTransport(EventLoop& loop, std::shared_ptr<SubprocessProtocol> protocol)
      : loop_(loop), protocol_(std::move(protocol)) {}

  pid_t get_pid() const noexcept override { return pid_; }
  std::optional<int> get_returncode() const noexcept override { return returncode_; }
  Transport* get_pipe_transport(int fd) const noexcept override {
    if (fd < 0 || fd > 2) return nullptr;
    return pipes_[static_cast<std::size_t>(fd)].transport.get();
  }
  void send_signal(int sig) override {
    // After the transport finished asyncio's _check_proc raises ProcessLookupError.
    if (finished_) throw_os_error(ESRCH, "send_signal");
    // A reaped child's pid may belong to someone else by now; an unreaped one is still ours
    // (a zombie keeps its pid), so kill() cannot hit a stranger.
    if (returncode_ || pid_ <= 0) return;
    if (::kill(pid_, sig) != 0 && errno != ESRCH) throw_os_error(errno, "kill");
  }
  void close() override {
    if (closed_) return;
    closed_ = true;
    for (auto& p : pipes_)
      if (p.transport) p.transport->close();
    if (pid_ > 0 && !returncode_) ::kill(pid_, SIGKILL);  // asyncio: "Close running child process: kill"
  }
  bool is_closing() const noexcept override { return closed_; }
  std::shared_ptr<SubprocessProtocol> get_protocol() const override { return protocol_; }
  EventLoop& get_loop() const noexcept override { return loop_; }

  Coro<int> wait() override {
    auto self = std::static_pointer_cast<UnixSubprocessTransport>(shared_from_this());
    if (returncode_) co_return *returncode_;
    Future<int> waiter = loop_.create_future<int>();
    exit_waiters_.push_back(waiter);
    co_return co_await waiter;
  }

  // Spawns the child, starts watching it and connects its pipes.
  Coro<void> start(std::vector<std::string> argv, SubprocessOptions options);

  // From the pipe protocols and the child watcher.
  void pipe_data_received(int fd, std::string_view data) {
    call([p = protocol_, fd, d = std::string(data)] { p->pipe_data_received(fd, d); });
  }
  void pipe_connection_lost(int fd, std::exception_ptr exc) {
    pipes_[static_cast<std::size_t>(fd)].disconnected = true;
    call([p = protocol_, fd, exc] { p->pipe_connection_lost(fd, exc); });
    try_finish();
  }
  void process_exited(int returncode) {
    returncode_ = returncode;
    call([p = protocol_] { p->process_exited(); });
    try_finish();
  }
  void protocol_pause_writing() { protocol_->pause_writing(); }
  void protocol_resume_writing() { protocol_->resume_writing(); }

 private:
  struct Pipe {
    std::shared_ptr<Transport> transport;
    bool used = false;
    bool disconnected = false;
  };

  void call(std::function<void()> fn) {
    if (pending_) {
      pending_->push_back(std::move(fn));
    } else {
      loop_.call_soon(std::move(fn));
    }
  }
  void try_finish() {
    if (!returncode_ || finished_) return;
    for (const auto& p : pipes_)
      if (p.used && !p.disconnected) return;
    finished_ = true;
    auto self = std::static_pointer_cast<UnixSubprocessTransport>(shared_from_this());
    call([self] { self->call_connection_lost(); });
  }
  void call_connection_lost() {
    std::vector<Future<int>> waiters;
    waiters.swap(exit_waiters_);
    struct Wake {
      std::vector<Future<int>>& waiters;
      int rc;
      ~Wake() {
        for (auto& w : waiters)
          if (!w.done()) w.set_result(rc);
      }
    } wake{waiters, *returncode_};
    protocol_->connection_lost(nullptr);
  }
  // Connects one pipe; on failure the fd is closed by connect_*_pipe.
  Coro<void> connect_pipe(int which, int fd);

  EventLoop& loop_;
  std::shared_ptr<SubprocessProtocol> protocol_;
  pid_t pid_ = -1;
  std::optional<int> returncode_;
  std::array<Pipe, 3> pipes_{};
  std::optional<std::vector<std::function<void()>>> pending_;
  std::vector<Future<int>> exit_waiters_;
  bool closed_ = false;
  bool finished_ = false;
};

void PipeProto::connection_lost(std::exception_ptr exc) {
  if (auto proc = std::exchange(proc_, nullptr)) proc->pipe_connection_lost(fd_, exc);
}
void PipeProto::data_received(std::string_view data) {
  if (proc_) proc_->pipe_data_received(fd_, data);
}
void PipeProto::pause_writing() {
  if (proc_) proc_->protocol_pause_writing();
}
void PipeProto::resume_writing() {
  if (proc_) proc_->protocol_resume_writing();
}

Coro<void> UnixSubprocessTransport::connect_pipe(int which, int fd) {
  auto self = std::static_pointer_cast<UnixSubprocessTransport>(shared_from_this());
  ProtocolFactory factory = [self, which]() -> std::shared_ptr<BaseProtocol> {
    return std::make_shared<PipeProto>(self, which);
  };
  pipes_[static_cast<std::size_t>(which)].used = true;
  ConnectionPair pair;
  if (which == 0) {
    pair = co_await loop_.connect_write_pipe(std::move(factory), fd);
  } else {
    pair = co_await loop_.connect_read_pipe(std::move(factory), fd);
  }
  pipes_[static_cast<std::size_t>(which)].transport = std::move(pair.first);
}

Coro<void> UnixSubprocessTransport::start(std::vector<std::string> argv, SubprocessOptions options) {
  auto self = std::static_pointer_cast<UnixSubprocessTransport>(shared_from_this());
  SpawnedChild child = spawn_child(argv, options);  // throws before anything needs undoing
  pid_ = child.pid;
  pending_.emplace();
  watch_child(loop_, pid_, [self](int rc) { self->process_exited(rc); });
  std::array<int, 3> fds{child.stdin_fd, child.stdout_fd, child.stderr_fd};
  std::exception_ptr error;
  try {
    for (int i = 0; i < 3; ++i) {
      if (fds[static_cast<std::size_t>(i)] < 0) continue;
      const int fd = std::exchange(fds[static_cast<std::size_t>(i)], -1);
      co_await connect_pipe(i, fd);
    }
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
    for (auto& p : pipes_)
      if (p.used && !p.transport) p.disconnected = true;  // its fd was closed by connect_*_pipe
    pending_.reset();
    close();
    co_await wait();
    std::rethrow_exception(error);
  }
  // connection_made first, then whatever the pipes and the watcher reported meanwhile.
  loop_.call_soon([self] { self->protocol_->connection_made(*self); });
  for (auto& fn : *pending_) loop_.call_soon(std::move(fn));
  pending_.reset();
}

Coro<SubprocessPair> subprocess_impl(EventLoop& loop, SubprocessProtocolFactory factory, std::vector<std::string> argv,
                                     SubprocessOptions options) {
  if (!factory) throw std::invalid_argument("a protocol factory is required");
  std::shared_ptr<SubprocessProtocol> protocol = factory();
  if (!protocol) throw std::invalid_argument("the protocol factory returned no protocol");
  auto transport = std::make_shared<UnixSubprocessTransport>(loop, protocol);
  co_await transport->start(std::move(argv), std::move(options));
  // Return after connection_made has run, as asyncio's waiter does.
  Future<> ready = loop.create_future();
  loop.call_soon([ready] {
    if (!ready.done()) ready.set_result();
  });
  co_await ready;
  co_return SubprocessPair(std::move(transport), std::move(protocol));
}

}  // namespace
}  // namespace detail

Coro<SubprocessPair> EventLoop::subprocess_exec(SubprocessProtocolFactory factory, std::vector<std::string> args,
                                                const SubprocessOptions& options) {
  check_closed();
  if (args.empty()) throw std::invalid_argument("program arguments must be a non-empty list");
  return detail::subprocess_impl(*this, std::move(factory), std::move(args), options);  // options copied
}

Coro<SubprocessPair> EventLoop::subprocess_exec(SubprocessProtocolFactory factory, std::vector<std::string> args) {
  return subprocess_exec(std::move(factory), std::move(args), SubprocessOptions{});
}

Coro<SubprocessPair> EventLoop::subprocess_shell(SubprocessProtocolFactory factory, std::string cmd,
                                                 const SubprocessOptions& options) {
  check_closed();
  return detail::subprocess_impl(*this, std::move(factory), {"/bin/sh", "-c", std::move(cmd)}, options);
}

Coro<SubprocessPair> EventLoop::subprocess_shell(SubprocessProtocolFactory factory, std::string cmd) {
  return subprocess_shell(std::move(factory), std::move(cmd), SubprocessOptions{});
}

}  // namespace qaio
