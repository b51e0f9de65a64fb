// The operator's side of the real binary: --version, check-config, SIGHUP,
// systemd readiness, journald priorities, file modes, a hostile callback.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "tests/fixtures/prometheus_scrape_support.hpp"

using namespace sb::scrape_test;

namespace {

/// Runs the binary to its end (bounded) and returns its exit and output.
struct finished {
  exit_info how;
  std::string output;
};

finished run_to_end(const std::vector<std::string>& args,
                    const std::vector<std::string>& env = clean_environment()) {
  scratch_dir dir{"sb-ops"};
  std::vector<std::string> argv{SB_SWITCHBOARD_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  child_process child{argv, env, dir.path(), dir.path() / "out.log"};
  wait_until(milliseconds{10000}, milliseconds{10},
             [&] { return !child.running(); });
  finished result;
  result.how = child.stop(milliseconds{2000});
  result.output = read_text(dir.path() / "out.log");
  return result;
}

bool log_has(const child_process& p, const std::string& text) {
  return read_text(p.log()).find(text) != std::string::npos;
}

unsigned mode_of(const fs::path& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode & 0777;
}

/// A unix datagram socket standing in for systemd's notify socket.
class notify_socket {
public:
  explicit notify_socket(const fs::path& path) : path_(path.string()) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    REQUIRE(path_.size() < sizeof(address.sun_path));
    std::memcpy(address.sun_path, path_.data(), path_.size());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address)
            == 0);
    timeval timeout{15, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~notify_socket() {
    ::close(fd_);
  }
  notify_socket(const notify_socket&) = delete;
  notify_socket& operator=(const notify_socket&) = delete;

  /// The next datagram, "" after 15 s without one.
  std::string next() {
    char buffer[4096];
    auto n = ::recv(fd_, buffer, sizeof buffer, 0);
    return n > 0 ? std::string{buffer, static_cast<size_t>(n)} : std::string{};
  }

  const std::string& path() const noexcept {
    return path_;
  }

private:
  std::string path_;
  int fd_ = -1;
};

} // namespace

TEST_CASE("--version prints the version and the git revision") {
  auto run = run_to_end({"--version"});
  CHECK(run.how.exited);
  CHECK(run.how.code == 0);
  CHECK(run.output.rfind("switchboard " SB_VERSION " (revision ", 0) == 0);
  CHECK(run.output.find(SB_REVISION) != std::string::npos);
}

TEST_CASE("check-config prints the effective config, secrets masked, exit "
          "0 or 2") {
  auto ok = run_to_end(
      {"check-config", "--log.level=debug"},
      clean_environment({"SWITCHBOARD_HTTP_TOKEN=tok-secret-value"}));
  CHECK(ok.how.exited);
  CHECK(ok.how.code == 0);
  CHECK(ok.output.find("[log]\nlevel = debug") != std::string::npos);
  CHECK(ok.output.find("token = ***") != std::string::npos);
  CHECK(ok.output.find("tok-secret-value") == std::string::npos);
  auto bad = run_to_end({"check-config", "--phone.default_region=ZZ"});
  CHECK(bad.how.exited);
  CHECK(bad.how.code == 2);
  CHECK(bad.output.find("phone.default_region") != std::string::npos);
}

TEST_CASE("SIGHUP reloads the log level, keeps serving, names what needs a "
          "restart; READY/STOPPING reach the notify socket") {
  scratch_dir dir{"sb-ops"};
  notify_socket systemd{dir.path() / "notify"};
  auto config = dir.path() / "switchboard.ini";
  std::ofstream{config} << "[db]\nurl = sqlite:sb.db\n[log]\nlevel = info\n";
  auto env = clean_environment({"NOTIFY_SOCKET=" + systemd.path()});
  auto server = start_switchboard(dir.path(), env, [&](uint16_t) {
    return std::vector<std::string>{"--config", config.string()};
  });
  auto& process = *server.process;
  CHECK(systemd.next() == "READY=1");

  std::ofstream{config, std::ios::trunc}
      << "[db]\nurl = sqlite:sb.db\nbatch_size = 7\n[log]\nlevel = debug\n";
  REQUIRE(::kill(process.pid(), SIGHUP) == 0);
  CHECK(systemd.next() == "RELOADING=1");
  CHECK(systemd.next() == "READY=1");
  CHECK(wait_until(milliseconds{10000}, milliseconds{20}, [&] {
    return log_has(process, "msg=\"reload: log level changed\" level=debug");
  }));
  CHECK(log_has(process, "msg=\"reload: changed keys need a restart\" "
                         "keys=db.batch_size"));
  CHECK(http_get(server.port, "/healthz").status == 200);
  CHECK(process.running());

  // A file that no longer loads changes nothing.
  std::ofstream{config, std::ios::trunc} << "[log]\nlevel = loud\n";
  REQUIRE(::kill(process.pid(), SIGHUP) == 0);
  CHECK(wait_until(milliseconds{10000}, milliseconds{20}, [&] {
    return log_has(process, "reload refused: the configuration is invalid");
  }));
  CHECK(http_get(server.port, "/healthz").status == 200);

  auto ended = process.stop(milliseconds{10000});
  CHECK(ended.exited);
  CHECK(ended.code == 0);
  std::string last;
  for (int i = 0; i < 4 && last != "STOPPING=1"; ++i)
    last = systemd.next();
  CHECK(last == "STOPPING=1");
}

TEST_CASE("SIGHUP replaces the HTTP tokens without a restart") {
  scratch_dir dir{"sb-ops"};
  auto config = dir.path() / "switchboard.ini";
  std::ofstream{config} << "[db]\nurl = sqlite:sb.db\n[http]\ntoken = old-"
                           "token-1234567890\n";
  auto server = start_switchboard(dir.path(), clean_environment(),
                                  [&](uint16_t) {
                                    return std::vector<std::string>{
                                        "--config", config.string()};
                                  });
  auto comms = [&](const std::string& token) {
    return http_get(server.port, "/api/crm/comms", {},
                    {{"Authorization", "Bearer " + token}})
        .status;
  };
  CHECK(comms("old-token-1234567890") == 200);
  CHECK(comms("new-token-1234567890") == 401);

  std::ofstream{config, std::ios::trunc}
      << "[db]\nurl = sqlite:sb.db\n[http]\ntoken = new-token-1234567890\n"
         "read_token = read-token-1234567890\n";
  REQUIRE(::kill(server.process->pid(), SIGHUP) == 0);
  CHECK(wait_until(milliseconds{10000}, milliseconds{20}, [&] {
    return log_has(*server.process, "reload: HTTP tokens replaced");
  }));
  CHECK(comms("new-token-1234567890") == 200);
  CHECK(comms("old-token-1234567890") == 401);
  CHECK(comms("read-token-1234567890") == 200);
  CHECK(log_has(*server.process, "new-token-1234567890") == false);
  server.process->stop(milliseconds{10000});
}

TEST_CASE("when the root supervisor gives up, the process stops in order "
          "and exits 1") {
  // The root supervisor raises SIGUSR1 in its own process when a pipeline
  // actor keeps dying; the same signal from outside takes the same path.
  scratch_dir dir{"sb-ops"};
  auto server = start_switchboard(dir.path(), clean_environment(),
                                  [&](uint16_t) {
                                    return std::vector<std::string>{
                                        "--db.url=sqlite:sb.db"};
                                  });
  REQUIRE(::kill(server.process->pid(), SIGUSR1) == 0);
  REQUIRE(wait_until(milliseconds{15000}, milliseconds{20},
                     [&] { return !server.process->running(); }));
  auto ended = server.process->ended();
  CHECK(ended.exited);
  CHECK(ended.code == 1);
  CHECK(log_has(*server.process, "stopping: the pipeline cannot run"));
  CHECK(log_has(*server.process, "msg=\"pipeline drained\""));
}

TEST_CASE("files switchboard creates are not readable by other users, "
          "whatever the umask") {
  scratch_dir dir{"sb-ops"};
  auto old_mask = ::umask(0);
  auto server
      = start_switchboard(dir.path(), clean_environment(), [&](uint16_t) {
          return std::vector<std::string>{"--db.url=sqlite:fresh.db",
                                          "--db.spool_path=fresh.spool"};
        });
  ::umask(old_mask);
  auto db = dir.path() / "fresh.db";
  REQUIRE(wait_until(milliseconds{10000}, milliseconds{20},
                     [&] { return fs::exists(db); }));
  for (const auto& name : {"fresh.db", "fresh.db-wal", "fresh.db-shm"}) {
    auto path = dir.path() / name;
    if (!fs::exists(path))
      continue; // -wal / -shm exist only in WAL mode while the file is open
    INFO(name);
    CHECK((mode_of(path) & 0037) == 0);
  }
  server.process->stop(milliseconds{10000});
  CHECK((mode_of(db) & 0037) == 0);
  if (fs::exists(dir.path() / "fresh.spool"))
    CHECK((mode_of(dir.path() / "fresh.spool") & 0037) == 0);
}

TEST_CASE("log lines carry journald priorities when stderr is the journal "
          "stream") {
  scratch_dir dir{"sb-ops"};
  // The child's log file is its stderr: name it as JOURNAL_STREAM does.
  auto log = dir.path() / "switchboard-1.log";
  std::ofstream{log}.flush();
  struct stat info {};
  REQUIRE(::stat(log.c_str(), &info) == 0);
  auto stream = std::to_string(info.st_dev) + ":" + std::to_string(info.st_ino);
  std::vector<std::string> argv{SB_SWITCHBOARD_BIN,
                                "--http.listen=127.0.0.1:"
                                    + std::to_string(free_port()),
                                "--db.url=sqlite:j.db"};
  child_process child{argv, clean_environment({"JOURNAL_STREAM=" + stream}),
                      dir.path(), log};
  CHECK(wait_until(milliseconds{15000}, milliseconds{20}, [&] {
    return read_text(log).find("<6>ts=") != std::string::npos
           || !child.running();
  }));
  child.stop(milliseconds{10000});
  auto text = read_text(log);
  INFO(log_tail(log));
  CHECK(text.rfind("<6>ts=", 0) == 0);
  // Without it, plain logfmt.
  scratch_dir plain_dir{"sb-ops"};
  auto plain
      = start_switchboard(plain_dir.path(), clean_environment(), [](uint16_t) {
          return std::vector<std::string>{"--db.url=sqlite:p.db"};
        });
  CHECK(read_text(plain.process->log()).rfind("ts=", 0) == 0);
}

TEST_CASE("a callback of 1 MiB nested JSON is refused and the process lives") {
  scratch_dir dir{"sb-ops"};
  auto env = clean_environment({"SWITCHBOARD_OZONETEL_CALLBACK_TOKEN=cb-tok"});
  auto server = start_switchboard(dir.path(), env, [](uint16_t) {
    return std::vector<std::string>{"--db.url=sqlite:cb.db",
                                    "--http.max_body_bytes=8388608"};
  });
  // 1 MiB of JSON, half a million levels, as a multipart field (the way
  // the 150,000-level payload crashed the recursive parser).
  std::string json = std::string(1u << 19, '[') + std::string(1u << 19, ']');
  httplib::MultipartFormDataItems form{{"data", json, "", ""}};
  httplib::Client client{"127.0.0.1", server.port};
  client.set_read_timeout(20, 0);
  auto res = client.Post("/api/ozonetel/callback?token=cb-tok", form);
  REQUIRE(res);
  INFO(res->body);
  // 400 once the HTTP edge maps callback_parse::malformed; 422 before.
  CHECK((res->status == 400 || res->status == 422));
  CHECK(res->body.find("nested deeper than 64 levels") != std::string::npos);
  CHECK(server.process->running());
  CHECK(http_get(server.port, "/healthz").status == 200);
}
