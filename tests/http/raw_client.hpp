#pragma once

// Plain TCP connections to the server under test, for what an HTTP client
// library will not send: malformed heads, endless chunked bodies, a request
// dribbled one line at a time, invented methods.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

namespace sb::test {

class raw_connection {
public:
  explicit raw_connection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0)
      return;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  ~raw_connection() {
    if (fd_ >= 0)
      ::close(fd_);
  }

  raw_connection(raw_connection&& other) noexcept : fd_(other.fd_) {
    other.fd_ = -1;
  }
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  bool ok() const noexcept {
    return fd_ >= 0;
  }

  /// Sends all of `bytes`; false when the peer closed or reset.
  bool send(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      auto n
          = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0)
        return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  /// True when something (data or the end) can be read within `wait`.
  bool readable(std::chrono::milliseconds wait) const {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(wait.count())) > 0;
  }

  /// Reads until the peer closes, `until` appears or `wait` passes.
  std::string receive(std::chrono::milliseconds wait,
                      const std::string& until = {}) {
    std::string got;
    auto deadline = std::chrono::steady_clock::now() + wait;
    char buf[16384];
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !readable(left))
        break;
      auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0)
        break;
      got.append(buf, static_cast<size_t>(n));
      if (!until.empty() && got.find(until) != std::string::npos)
        break;
    }
    return got;
  }

  /// True when the server closed the connection within `wait`.
  bool closed_by_peer(std::chrono::milliseconds wait) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    char buf[4096];
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !readable(left))
        return false;
      auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0)
        return true;
    }
  }

  int fd() const noexcept {
    return fd_;
  }

private:
  int fd_ = -1;
};

/// Resident set size of this process in bytes.
inline size_t resident_bytes() {
  std::ifstream in{"/proc/self/statm"};
  size_t pages = 0;
  size_t resident = 0;
  in >> pages >> resident;
  return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

/// The status code of a raw HTTP/1.1 answer, 0 when there is none.
inline int status_of(const std::string& reply) {
  if (reply.rfind("HTTP/1.1 ", 0) != 0 || reply.size() < 12)
    return 0;
  return std::atoi(reply.substr(9, 3).c_str());
}

} // namespace sb::test
