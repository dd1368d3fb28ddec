// subprocess_impl.h (private): spawning children and watching them exit, shared by the transport
// (subprocess_transport.cpp) and defined in subprocess_spawn.cpp / subprocess_watch.cpp.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "qaio/event_loop.h"
#include "qaio/subprocess.h"

namespace qaio::detail {

// The parent's ends of the pipes (-1 where the stream is not a PIPE). Non-blocking, CLOEXEC.
struct SpawnedChild {
  pid_t pid = -1;
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
};

// posix_spawnp(argv[0], argv) with the redirections of `options`. Throws std::invalid_argument for
// bad options and qaio::OSError (errno of the failed exec/open) if the child could not start.
SpawnedChild spawn_child(const std::vector<std::string>& argv, const SubprocessOptions& options);

// Calls on_exit(returncode) on the loop's thread once `pid` has exited and was reaped by us.
// If the loop closes first, the child is handed to a background reaper so it never stays a zombie.
void watch_child(EventLoop& loop, pid_t pid, std::function<void(int)> on_exit);

// waitpid status -> asyncio's returncode: the exit code, or -N when signal N killed the child.
int returncode_from_status(int status) noexcept;

}  // namespace qaio::detail
