// net_unix_path.h (private): the one file-system step Unix-socket endpoints share.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace qaio::detail {

// Removes the socket file at `path`, if that is what is there. Two callers, one operation: before
// bind() a stale file from an earlier run would make it fail with EADDRINUSE (create_unix_server,
// create_datagram_endpoint's local_addr), and Server::close() removes the file its listener made.
// An empty path or a Linux abstract name (leading NUL) has no file; anything that is not a socket
// (a regular file that happens to have the name) is left alone, as asyncio does.
inline void unlink_socket_file(const std::string& path) {
  if (path.empty() || path[0] == '\0') return;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
}

}  // namespace qaio::detail
