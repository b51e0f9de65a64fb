#include "app/notify.hpp"

#include <cstddef>
#include <cstdlib>
#include <cstring>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace sb {

bool notify_systemd(const std::string& socket_path, const std::string& state) {
  if (socket_path.empty())
    return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(address.sun_path))
    return false;
  std::memcpy(address.sun_path, socket_path.data(), socket_path.size());
  // An abstract socket: '@' stands for the leading NUL byte.
  if (address.sun_path[0] == '@')
    address.sun_path[0] = '\0';
  auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path)
                                       + socket_path.size());
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  auto sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                       reinterpret_cast<const sockaddr*>(&address), length);
  ::close(fd);
  return sent == static_cast<ssize_t>(state.size());
}

bool notify_systemd(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  return notify_systemd(path == nullptr ? std::string{} : std::string{path},
                        state);
}

} // namespace sb
