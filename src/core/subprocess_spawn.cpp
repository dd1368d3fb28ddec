// subprocess_spawn.cpp: starting a child with posix_spawnp and its stdin/stdout/stderr redirections.
//
// posix_spawnp (glibc: clone(CLONE_VFORK) + exec) rather than fork(): no copy of a large parent's
// page tables, and glibc reports a failed exec as the call's error code. All our pipes are made
// with O_CLOEXEC, so a child spawned concurrently by another thread never inherits them; the
// dup2 file actions clear CLOEXEC on exactly the ends this child should have.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <vector>

#include "subprocess_impl.h"

extern char** environ;

namespace qaio::detail {

namespace {

// Closes the fds it holds unless released (spawn failure paths).
struct FdList {
  std::vector<int> fds;
  ~FdList() {
    for (int fd : fds) ::close(fd);
  }
  void forget(int fd) {
    for (auto& f : fds)
      if (f == fd) f = -1;
    std::erase(fds, -1);
  }
};

struct FileActions {
  posix_spawn_file_actions_t fa;
  FileActions() { posix_spawn_file_actions_init(&fa); }
  ~FileActions() { posix_spawn_file_actions_destroy(&fa); }
};

struct SpawnAttr {
  posix_spawnattr_t at;
  SpawnAttr() { posix_spawnattr_init(&at); }
  ~SpawnAttr() { posix_spawnattr_destroy(&at); }
};

void check(int rc, const char* what) {
  if (rc != 0) throw_os_error(rc, what);
}

}  // namespace

SpawnedChild spawn_child(const std::vector<std::string>& argv, const SubprocessOptions& options) {
  if (argv.empty() || argv[0].empty()) throw std::invalid_argument("program must not be empty");
  if (options.stdin_ == STDOUT) throw std::invalid_argument("STDOUT can only be used for stderr");
  if (options.stdout_ == STDOUT) throw std::invalid_argument("STDOUT can only be used for stderr");

  FileActions actions;
  FdList parent_ends;  // ours; handed to the caller on success
  FdList child_ends;   // the child's copies; closed in the parent after the spawn either way
  SpawnedChild out;

  auto redirect = [&](int target, const std::optional<int>& spec, bool child_reads, int& parent_fd) {
    if (!spec) return;  // inherit
    const int v = *spec;
    if (v == PIPE) {
      int p[2];
      if (::pipe2(p, O_CLOEXEC) != 0) throw_os_error(errno, "pipe2");
      const int child_end = child_reads ? p[0] : p[1];
      const int parent_end = child_reads ? p[1] : p[0];
      child_ends.fds.push_back(child_end);
      parent_ends.fds.push_back(parent_end);
      check(posix_spawn_file_actions_adddup2(&actions.fa, child_end, target), "posix_spawn_file_actions_adddup2");
      parent_fd = parent_end;
    } else if (v == DEVNULL) {
      check(posix_spawn_file_actions_addopen(&actions.fa, target, "/dev/null", child_reads ? O_RDONLY : O_WRONLY, 0),
            "posix_spawn_file_actions_addopen");
    } else if (v == STDOUT) {
      check(posix_spawn_file_actions_adddup2(&actions.fa, 1, target), "posix_spawn_file_actions_adddup2");
    } else if (v >= 0) {
      check(posix_spawn_file_actions_adddup2(&actions.fa, v, target), "posix_spawn_file_actions_adddup2");
    } else {
      throw std::invalid_argument("invalid redirection " + std::to_string(v) + " for fd " + std::to_string(target));
    }
  };
  redirect(0, options.stdin_, true, out.stdin_fd);
  redirect(1, options.stdout_, false, out.stdout_fd);
  redirect(2, options.stderr_, false, out.stderr_fd);  // after stdout: STDOUT means the new fd 1
  if (options.cwd)
    check(posix_spawn_file_actions_addchdir_np(&actions.fa, options.cwd->c_str()), "posix_spawn_file_actions_addchdir_np");

  SpawnAttr attr;
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (options.start_new_session) flags |= POSIX_SPAWN_SETSID;
  check(posix_spawnattr_setflags(&attr.at, flags), "posix_spawnattr_setflags");
  // The loop blocks the signals it reads through a signalfd, and the networking code ignores
  // SIGPIPE: the child must start with neither, like Python's restore_signals=True.
  sigset_t none;
  sigemptyset(&none);
  check(posix_spawnattr_setsigmask(&attr.at, &none), "posix_spawnattr_setsigmask");
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGXFSZ);
  check(posix_spawnattr_setsigdefault(&attr.at, &defaults), "posix_spawnattr_setsigdefault");

  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  if (options.env) {
    cenv.reserve(options.env->size() + 1);
    for (const auto& e : *options.env) cenv.push_back(const_cast<char*>(e.c_str()));
    cenv.push_back(nullptr);
  }

  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, cargv[0], &actions.fa, &attr.at, cargv.data(),
                                options.env ? cenv.data() : environ);
  if (rc != 0) throw_os_error(rc, argv[0]);  // parent_ends and child_ends close themselves
  out.pid = pid;
  for (int fd : {out.stdin_fd, out.stdout_fd, out.stderr_fd}) {
    if (fd < 0) continue;
    parent_ends.forget(fd);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  return out;
}

int returncode_from_status(int status) noexcept {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return status;  // not reachable for an exited child
}

}  // namespace qaio::detail
