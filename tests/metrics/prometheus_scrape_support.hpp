#pragma once

// What the tests that run the real switchboard binary (and a real Prometheus)
// share: child processes that are always stopped by their PID within a bounded
// time, free loopback ports, plain HTTP GETs, and the Prometheus text format
// read back into numbers.

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include "tests/fixtures/temp_dir.hpp"

extern char** environ;

namespace sb::scrape_test {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

using test::scratch_dir;

inline std::string read_text(const fs::path& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// The last `bytes` of a log, for failure messages.
inline std::string log_tail(const fs::path& path, size_t bytes = 3000) {
  auto text = read_text(path);
  if (text.size() > bytes)
    text = "..." + text.substr(text.size() - bytes);
  return text;
}

/// Polls `ready` every `interval` until it holds or `timeout` passes.
template <class Predicate>
bool wait_until(milliseconds timeout, milliseconds interval, Predicate ready) {
  auto deadline = steady::now() + timeout;
  for (;;) {
    if (ready())
      return true;
    if (steady::now() >= deadline)
      return false;
    std::this_thread::sleep_for(interval);
  }
}

/// How a child ended.
struct exit_info {
  bool exited = false; // by exit(), not by a signal
  int code = -1;       // exit status when `exited`
  int signal = 0;      // terminating signal otherwise
  bool killed = false; // SIGTERM was not enough within the grace time
};

inline std::ostream& operator<<(std::ostream& out, const exit_info& x) {
  if (x.exited)
    return out << "exit " << x.code << (x.killed ? " (after SIGKILL)" : "");
  return out << "signal " << x.signal << (x.killed ? " (SIGKILL)" : "");
}

/// One program started with posix_spawn: its own working directory, stdout
/// and stderr into `log`, a clean signal mask. It is stopped by its PID only:
/// SIGTERM, a bounded wait, SIGKILL after that (also on destruction, so a
/// failed REQUIRE never leaves it running).
class child_process {
public:
  child_process(const std::vector<std::string>& argv,
                const std::vector<std::string>& env, const fs::path& cwd,
                const fs::path& log)
    : log_(log) {
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& e : env)
      envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);

    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addchdir_np(&files, cwd.c_str());
    posix_spawn_file_actions_addopen(&files, STDIN_FILENO, "/dev/null",
                                     O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&files, STDOUT_FILENO, STDERR_FILENO);
    // The test's own sockets (a replay PBX's listener, HTTP clients) must not
    // live on in the child.
    posix_spawn_file_actions_addclosefrom_np(&files, STDERR_FILENO + 1);

    // Catch2 and the test's own threads may block or catch signals; the
    // child must start with the defaults, or SIGTERM would not reach it.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int s : {SIGTERM, SIGINT, SIGPIPE, SIGHUP})
      sigaddset(&defaults, s);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    int rc = posix_spawn(&pid_, args[0], &files, &attr, args.data(),
                         envp.data());
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&files);
    if (rc != 0)
      throw std::runtime_error("cannot start " + argv[0] + ": "
                               + std::strerror(rc));
  }

  ~child_process() {
    if (!reaped_)
      stop(milliseconds{5000});
  }

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const noexcept {
    return pid_;
  }

  const fs::path& log() const noexcept {
    return log_;
  }

  bool running() {
    if (reaped_)
      return false;
    int status = 0;
    auto r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      record(status);
      return false;
    }
    return r == 0;
  }

  /// SIGTERM, wait up to `grace`, then SIGKILL and wait for it.
  exit_info stop(milliseconds grace) {
    if (reaped_)
      return info_;
    ::kill(pid_, SIGTERM);
    wait_until(grace, milliseconds{20}, [this] { return !running(); });
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      record(status);
      info_.killed = true;
    }
    return info_;
  }

  /// How it ended, if it has (see running()).
  const exit_info& ended() const noexcept {
    return info_;
  }

private:
  void record(int status) {
    reaped_ = true;
    if (WIFEXITED(status)) {
      info_.exited = true;
      info_.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      info_.signal = WTERMSIG(status);
    }
  }

  pid_t pid_ = -1;
  bool reaped_ = false;
  exit_info info_;
  fs::path log_;
};

/// This process's environment without switchboard's own settings (a
/// developer's SWITCHBOARD_* or AMI_* must not leak into the server under
/// test), plus `extra` ("KEY=value").
inline std::vector<std::string>
clean_environment(const std::vector<std::string>& extra = {}) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry{*e};
    if (entry.rfind("SWITCHBOARD_", 0) == 0 || entry.rfind("AMI_", 0) == 0)
      continue;
    env.push_back(std::move(entry));
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

/// A TCP port on 127.0.0.1 that was free a moment ago (for programs that
/// cannot report the port they bound to).
inline uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

struct http_reply {
  int status = -1; // -1: no answer at all
  std::string body;
};

inline http_reply http_get(uint16_t port, const std::string& path,
                           const httplib::Params& params = {},
                           const httplib::Headers& headers = {}) {
  httplib::Client client{"127.0.0.1", port};
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(5, 0);
  auto res = client.Get(path, params, headers);
  http_reply reply;
  if (res) {
    reply.status = res->status;
    reply.body = res->body;
  }
  return reply;
}

/// Waits for switchboard's "HTTP listening" log line; false when it exited
/// or did not say so in time.
inline bool wait_for_http(child_process& server, milliseconds timeout) {
  return wait_until(timeout, milliseconds{20}, [&] {
           return read_text(server.log()).find("msg=\"HTTP listening\"")
                  != std::string::npos
                  || !server.running();
         })
         && server.running();
}

/// A switchboard process serving HTTP on 127.0.0.1:<port>.
struct running_server {
  std::unique_ptr<child_process> process;
  uint16_t port = 0;
};

/// Starts the switchboard binary in `dir` with `argv_for(port)` on a free
/// port (http.listen takes no port 0); when that port was taken in the
/// meantime the start fails and another port is tried. `argv_for` runs
/// before each attempt, so it can also renew what an attempt used up.
inline running_server
start_switchboard(const fs::path& dir, const std::vector<std::string>& env,
                  const std::function<std::vector<std::string>(uint16_t)>& argv_for) {
  running_server result;
  std::string failures;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto port = free_port();
    auto argv = argv_for(port);
    argv.insert(argv.begin(), SB_SWITCHBOARD_BIN);
    argv.push_back("--http.listen=127.0.0.1:" + std::to_string(port));
    auto process = std::make_unique<child_process>(
      argv, env, dir, dir / ("switchboard-" + std::to_string(attempt) + ".log"));
    if (wait_for_http(*process, milliseconds{15000})) {
      result.process = std::move(process);
      result.port = port;
      return result;
    }
    process->stop(milliseconds{5000});
    std::ostringstream why;
    why << "attempt " << attempt << " on port " << port << " ("
        << process->ended() << "):\n"
        << log_tail(process->log()) << "\n";
    failures += why.str();
  }
  FAIL("switchboard did not start HTTP:\n" << failures);
  return result;
}

/// One sample line of the Prometheus text format.
struct sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

/// Every sample of a text-format page (comments skipped, label values
/// unescaped).
inline std::vector<sample> parse_samples(const std::string& page) {
  std::vector<sample> result;
  std::istringstream lines{page};
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#')
      continue;
    sample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ')
      ++i;
    s.name = line.substr(0, i);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        auto eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size()
            || line[eq + 1] != '"')
          break;
        auto key = line.substr(i, eq - i);
        std::string value;
        i = eq + 2;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\' && i + 1 < line.size()) {
            ++i;
            value += line[i] == 'n' ? '\n' : line[i];
          } else {
            value += line[i];
          }
          ++i;
        }
        s.labels[key] = value;
        ++i; // closing quote
        if (i < line.size() && line[i] == ',')
          ++i;
      }
      ++i; // closing brace
    }
    while (i < line.size() && line[i] == ' ')
      ++i;
    s.value = std::strtod(line.c_str() + i, nullptr);
    result.push_back(std::move(s));
  }
  return result;
}

inline bool labels_match(const sample& s,
                         const std::map<std::string, std::string>& want) {
  for (auto& [key, value] : want) {
    auto it = s.labels.find(key);
    if (it == s.labels.end() || it->second != value)
      return false;
  }
  return true;
}

/// Sum over the samples of `name` whose labels include `want`.
inline double sum_of(const std::vector<sample>& samples,
                     const std::string& name,
                     const std::map<std::string, std::string>& want = {}) {
  double total = 0;
  for (auto& s : samples)
    if (s.name == name && labels_match(s, want))
      total += s.value;
  return total;
}

/// How many samples of `name` carry labels including `want`.
inline size_t count_of(const std::vector<sample>& samples,
                       const std::string& name,
                       const std::map<std::string, std::string>& want = {}) {
  size_t n = 0;
  for (auto& s : samples)
    if (s.name == name && labels_match(s, want))
      ++n;
  return n;
}

/// The actors of the AMI pipeline, which every server with a PBX runs.
inline const std::vector<std::string>& pipeline_actors() {
  static const std::vector<std::string> names{
    "ami_connection",   "ami_parser",       "call_tracker",
    "customer_matcher", "comms_log_writer", "supervisor"};
  return names;
}

} // namespace sb::scrape_test
