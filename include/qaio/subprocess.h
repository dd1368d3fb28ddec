// qaio/subprocess.h: child processes, asyncio style, on both loops.
//
// High level (asyncio.create_subprocess_exec / _shell):
//     qaio::Process p = co_await qaio::create_subprocess_exec("cat", {}, {.stdin_ = qaio::PIPE, .stdout_ = qaio::PIPE});
//     auto [out, err] = co_await p.communicate("hello");   int rc = co_await p.wait();
// Low level (loop.subprocess_exec / subprocess_shell): a SubprocessTransport drives a
// SubprocessProtocol, the pipes being ordinary read/write pipe transports (connect_*_pipe).
//
// Children are started with posix_spawnp: every pipe is created O_CLOEXEC so concurrent spawns
// never leak each other's ends, and the child gets an empty signal mask and SIGPIPE back at its
// default, whatever the loop blocked or ignored. Each child is watched by a pidfd (Linux >= 5.3)
// in the loop's epoll set; without pidfd_open a SIGCHLD watcher reaps only the loop's own pids with
// waitpid(pid, WNOHANG), never anybody else's children. A killed child's returncode is -signal.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qaio/coro.h"
#include "qaio/event_loop.h"
#include "qaio/protocols.h"
#include "qaio/streams.h"
#include "qaio/transports.h"

namespace qaio {

// Redirections, with asyncio's values. Any other value >= 0 is an fd the child gets a copy of.
inline constexpr int PIPE = -1;
inline constexpr int STDOUT = -2;  // stderr only: into whatever stdout is
inline constexpr int DEVNULL = -3;

struct SubprocessOptions {
  std::optional<int> stdin_{};  // nullopt: inherit ours
  std::optional<int> stdout_{};
  std::optional<int> stderr_{};
  std::optional<std::string> cwd{};              // nullopt: ours
  std::optional<std::vector<std::string>> env{}; // "NAME=value" entries; nullopt: ours
  bool start_new_session = false;                // setsid() in the child
  long limit = kDefaultStreamLimit;              // the Process's StreamReaders (create_subprocess_*)
};

// asyncio.SubprocessProtocol. fd is 0, 1 or 2.
class SubprocessProtocol : public BaseProtocol {
 public:
  using BaseProtocol::connection_made;
  // The child started and its pipes are connected (asyncio passes the SubprocessTransport here).
  virtual void connection_made(SubprocessTransport& /*transport*/) {}
  virtual void pipe_data_received(int /*fd*/, std::string_view /*data*/) {}
  // A pipe closed (exc nullptr at a clean EOF).
  virtual void pipe_connection_lost(int /*fd*/, std::exception_ptr /*exc*/) {}
  // The child exited (get_returncode() is set). connection_lost(nullptr) follows once every pipe
  // is closed too.
  virtual void process_exited() {}
};
using SubprocessProtocolFactory = std::function<std::shared_ptr<SubprocessProtocol>()>;

// asyncio.SubprocessTransport.
class SubprocessTransport : public std::enable_shared_from_this<SubprocessTransport> {
 public:
  virtual ~SubprocessTransport() = default;
  virtual pid_t get_pid() const noexcept = 0;
  // nullopt while the child runs; its exit code, or -N if signal N killed it.
  virtual std::optional<int> get_returncode() const noexcept = 0;
  // The pipe transport of fd 0/1/2, or nullptr if that stream is not a PIPE.
  virtual Transport* get_pipe_transport(int fd) const noexcept = 0;
  // No-op once the child has been reaped; ProcessLookupError-like RuntimeError after close().
  virtual void send_signal(int sig) = 0;
  void terminate() { send_signal(SIGTERM); }
  void kill() { send_signal(SIGKILL); }
  // Closes the pipes and kills a child that still runs (asyncio's close()).
  virtual void close() = 0;
  virtual bool is_closing() const noexcept = 0;
  virtual std::shared_ptr<SubprocessProtocol> get_protocol() const = 0;
  virtual EventLoop& get_loop() const noexcept = 0;
  // Waits until the child exited and every pipe closed; returns the returncode (asyncio's _wait).
  virtual Coro<int> wait() = 0;
};
using SubprocessPair = std::pair<std::shared_ptr<SubprocessTransport>, std::shared_ptr<SubprocessProtocol>>;

namespace detail {
class ProcessStreamProtocol;
}

// asyncio.subprocess.Process: a cheap copyable handle.
class Process {
 public:
  Process() = default;
  Process(std::shared_ptr<SubprocessTransport> transport, std::shared_ptr<detail::ProcessStreamProtocol> protocol);

  pid_t pid() const noexcept;
  std::optional<int> returncode() const noexcept;
  // Waits for the child to exit (and its pipes to close). As in asyncio, a child that fills an
  // unread stdout/stderr PIPE can block: use communicate() for large output.
  Coro<int> wait();
  // Writes `input` to stdin (if it is a PIPE) and closes it, reads stdout and stderr (if PIPEs)
  // to EOF, waits for exit. Returns (stdout, stderr); "" for streams that are not PIPEs.
  Coro<std::pair<std::string, std::string>> communicate(std::string input = {});
  void send_signal(int sig);
  void terminate();
  void kill();
  // The streams; std::nullopt when the stream is not a PIPE.
  std::optional<StreamWriter> stdin_writer() const;
  std::optional<StreamReader> stdout_reader() const;
  std::optional<StreamReader> stderr_reader() const;
  const std::shared_ptr<SubprocessTransport>& transport() const noexcept { return transport_; }

 private:
  std::shared_ptr<SubprocessTransport> transport_;
  std::shared_ptr<detail::ProcessStreamProtocol> protocol_;
};

// asyncio.create_subprocess_exec: program is looked up in PATH like execvp; args follow argv[0].
// Throws qaio::OSError (ENOENT, EACCES, ...) if the program cannot be started.
Coro<Process> create_subprocess_exec(std::string program, std::vector<std::string> args = {},
                                     SubprocessOptions options = {});
// asyncio.create_subprocess_shell: /bin/sh -c cmd.
Coro<Process> create_subprocess_shell(std::string cmd, SubprocessOptions options = {});

namespace detail {
// Tests and old kernels: watch children with the SIGCHLD watcher even where pidfd_open works.
// Affects children spawned afterwards.
void force_sigchld_child_watcher(bool on) noexcept;
bool using_pidfd_child_watcher() noexcept;
}  // namespace detail

}  // namespace qaio
