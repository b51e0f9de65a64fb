#pragma once

// The real switchboard binary as a child process for the bench cases that
// measure it from outside (RSS, threads, exit times, kill -9): started with
// a generated config file, read through /proc and /metrics, stopped by its
// PID.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "bench/bench.hpp"

extern char** environ;

namespace sb::bench {

using steady = std::chrono::steady_clock;

inline size_t env_count(const char* name, size_t fallback) {
  if (auto* text = std::getenv(name))
    return static_cast<size_t>(std::max(1L, std::atol(text)));
  return fallback;
}

/// The binary under test: SB_BENCH_SWITCHBOARD (another build, for a
/// before/after figure) or this tree's.
inline std::string switchboard_binary() {
  if (auto* other = std::getenv("SB_BENCH_SWITCHBOARD"))
    return other;
  return SB_SWITCHBOARD_BIN;
}

inline uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// The switchboard binary as a child: `--config FILE --http.listen=...`,
/// stdout and stderr to a log; stopped by its PID.
class child {
public:
  child(const std::string& config, const std::string& dir, uint16_t http_port)
      : port_(http_port) {
    std::vector<std::string> argv{switchboard_binary(), "--config", config,
                                  "--http.listen=127.0.0.1:"
                                      + std::to_string(http_port)};
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    std::vector<std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e)
      if (std::string{*e}.rfind("SWITCHBOARD_", 0) != 0)
        env.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& e : env)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    auto log = dir + "/switchboard.log";
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addchdir_np(&files, dir.c_str());
    posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&files, STDOUT_FILENO, STDERR_FILENO);
    posix_spawn_file_actions_addclosefrom_np(&files, STDERR_FILENO + 1);
    if (posix_spawn(&pid_, args[0], &files, nullptr, args.data(), envp.data())
        != 0)
      throw std::runtime_error("cannot start switchboard");
    posix_spawn_file_actions_destroy(&files);
  }

  ~child() {
    stop();
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  /// SIGTERM; SIGKILL after 60 s. Returns the seconds it took to exit.
  double stop() {
    if (pid_ <= 0)
      return 0;
    auto t0 = steady::now();
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 6000; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return bench::seconds_since(t0);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return bench::seconds_since(t0);
  }

  /// kill -9: no drain, no goodbye.
  void kill9() {
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  pid_t pid() const noexcept {
    return pid_;
  }

  /// A field of /proc/<pid>/status in kB (or a count, for Threads).
  double status(const std::string& field) const {
    std::ifstream in{"/proc/" + std::to_string(pid_) + "/status"};
    for (std::string line; std::getline(in, line);)
      if (line.rfind(field + ":", 0) == 0)
        return std::atof(line.c_str() + field.size() + 1);
    return -1;
  }

  /// Sum of every sample of `name` on /metrics (-1 when no answer).
  double metric(const std::string& name) const {
    httplib::Client client{"127.0.0.1", port_};
    client.set_connection_timeout(2, 0);
    client.set_read_timeout(10, 0);
    auto res = client.Get("/metrics");
    if (!res || res->status != 200)
      return -1;
    double sum = 0;
    std::istringstream lines{res->body};
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind(name, 0) != 0)
        continue;
      auto rest = line.substr(name.size());
      if (!rest.empty() && rest[0] != '{' && rest[0] != ' ')
        continue;
      sum += std::atof(line.c_str() + line.rfind(' ') + 1);
    }
    return sum;
  }

  bool serving() const {
    httplib::Client client{"127.0.0.1", port_};
    client.set_connection_timeout(1, 0);
    auto res = client.Get("/metrics");
    return res && res->status == 200;
  }

private:
  pid_t pid_ = -1;
  uint16_t port_;
};

/// A config file in `dir`: SQLite `db`, one [pbx.p<i>] per port, `extra`
/// lines appended to each PBX section.
inline std::string write_config(const std::string& dir, const std::string& db,
                                const std::vector<uint16_t>& ports,
                                const std::string& events,
                                const std::string& extra = {}) {
  auto path = dir + "/switchboard.ini";
  std::ofstream out{path};
  out << "[db]\nurl = sqlite:" << db << "\nspool_path = " << dir
      << "/writer.spool\n[log]\nlevel = warning\n[phone]\ndefault_region = "
         "GB\n";
  for (size_t i = 0; i < ports.size(); ++i)
    out << "[pbx.p" << i << "]\nhost = 127.0.0.1\nport = " << ports[i]
        << "\nusername = admin\nsecret = secret\nevents = " << events << "\n"
        << extra;
  return path;
}

} // namespace sb::bench
