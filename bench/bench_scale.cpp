// Scale and flood figures of the real switchboard binary (a child process,
// SQLite) against local AMI replay servers on 127.0.0.1:
//   - 1,000 PBXes in one process: each replay server (one per PBX, in this
//     process) streams dev-04 (one call, call,cdr classes) renumbered, about
//     one call per second; reported: the child's threads, RSS, RSS per
//     connection (above a child with no PBX), calls/s finalized, and the
//     time from start-up to the 1,000th login, for a first start and for a
//     restart (SIGTERM, start again);
//   - RSS of the real binary over a 60 s flood: dev-11 (50 calls, every
//     event class) looped as fast as the socket takes it, sampled every 5 s.
// SB_BENCH_PBXES sets the PBX count (default 1000), SB_BENCH_FLOOD_SECONDS
// the flood length (default 60).

#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "adapters/ami/replay_server.hpp"
#include "bench/bench.hpp"
#include "bench/child_process.hpp"
#include "tests/fixtures/capture.hpp"
#include "tests/fixtures/synthetic_capture.hpp"
#include "tests/fixtures/temp_dir.hpp"
#include "tests/fixtures/wait.hpp"

namespace {

using namespace sb;
using namespace std::chrono_literals;
using bench::child;
using bench::env_count;
using bench::free_port;
using bench::steady;
using bench::write_config;

/// Seconds from `t0` to the `n`-th login over every server (-1 if never).
double all_logged_in(const std::vector<std::unique_ptr<ami::replay_server>>& s,
                     size_t logins_each, steady::time_point t0) {
  steady::time_point last{};
  for (auto& server : s) {
    auto times = server->login_times();
    if (times.size() < logins_each)
      return -1;
    last = std::max(last, times[logins_each - 1]);
  }
  return std::chrono::duration<double>(last - t0).count();
}

} // namespace

SB_BENCH("scale: 1,000 PBXes in one process (threads, RSS, logins)") {
  auto n = env_count("SB_BENCH_PBXES", 1000);
  test::scratch_dir dir{"sb-bench-scale"};
  test::repeat_options opts;
  opts.copies = 60;
  opts.drop_events = test::events_outside_call_cdr();
  auto capture = test::repeat_capture("dev-04-inbound-busy", opts);
  auto path = dir.file("pbx.ami");
  test::write_capture(path, capture.bytes);
  // About one call a second on each PBX.
  auto per_call = static_cast<double>(capture.events)
                  / static_cast<double>(capture.calls);
  std::vector<std::unique_ptr<ami::replay_server>> servers;
  std::vector<uint16_t> ports;
  for (size_t i = 0; i < n; ++i) {
    ami::replay_options replay;
    replay.capture_path = path;
    replay.events_per_second = per_call;
    auto started = ami::replay_server::start(replay);
    if (!started)
      throw std::runtime_error("replay server: "
                               + caf::to_string(started.error()));
    ports.push_back((*started)->port());
    servers.push_back(std::move(*started));
  }
  // A child with no PBX: the RSS every connection is counted above.
  double base_rss = 0;
  {
    auto none = write_config(dir.path().string(), dir.file("none.db"), {},
                             "call,cdr");
    child c{none, dir.path().string(), free_port()};
    test::wait_until([&] { return c.serving(); }, 30s, 50ms);
    std::this_thread::sleep_for(1s);
    base_rss = c.status("VmRSS");
  }
  auto config = write_config(dir.path().string(), dir.file("crm.db"), ports,
                             "call,cdr");
  for (int start = 1; start <= 2; ++start) {
    auto t0 = steady::now();
    child c{config, dir.path().string(), free_port()};
    double login = -1;
    test::wait_until(
        [&] {
          login = all_logged_in(servers, static_cast<size_t>(start), t0);
          return login >= 0;
        },
        120s, 20ms);
    test::wait_until([&] { return c.serving(); }, 30s, 50ms);
    // Calls/s over 20 s once every PBX streams.
    auto calls0 = c.metric("switchboard_tracker_calls_total");
    auto w0 = steady::now();
    std::this_thread::sleep_for(20s);
    auto calls1 = c.metric("switchboard_tracker_calls_total");
    auto window = bench::seconds_since(w0);
    auto rss = c.status("VmRSS");
    std::printf("  %s: %zu PBXes logged in %.2f s after start-up; %.0f "
                "threads; RSS %.1f MiB (peak %.1f MiB), %.1f KiB per "
                "connection above a process with no PBX (%.1f MiB); %.0f "
                "calls/s finalized over %.0f s\n",
                start == 1 ? "first start" : "restart", n, login,
                c.status("Threads"), rss / 1024, c.status("VmHWM") / 1024,
                (rss - base_rss) / static_cast<double>(n), base_rss / 1024,
                (calls1 - calls0) / window, window);
    std::fflush(stdout);
    auto drain = c.stop();
    std::printf("    stopped (SIGTERM) in %.2f s\n", drain);
  }
}

SB_BENCH("flood: RSS of the real binary over a sustained full-speed flood") {
  auto seconds = env_count("SB_BENCH_FLOOD_SECONDS", 60);
  test::scratch_dir dir{"sb-bench-flood"};
  test::repeat_options opts;
  opts.copies = 200; // 10,000 calls, then again (the same calls: late events)
  auto capture = test::repeat_capture("dev-11-burst-50", opts);
  auto path = dir.file("flood.ami");
  test::write_capture(path, capture.bytes);
  ami::replay_options replay;
  replay.capture_path = path;
  replay.loop = true;
  auto started = ami::replay_server::start(replay);
  if (!started)
    throw std::runtime_error("replay server");
  auto& server = **started;
  auto config = write_config(dir.path().string(), dir.file("crm.db"),
                             {server.port()}, "on");
  child c{config, dir.path().string(), free_port()};
  test::wait_until([&] { return !server.login_times().empty(); }, 30s, 20ms);
  auto t0 = steady::now();
  std::printf("  %zu-event capture (%.1f MB) looped at full speed:\n",
              capture.events, static_cast<double>(capture.bytes.size()) / 1e6);
  size_t sent0 = server.events_sent();
  std::vector<double> rss;
  for (size_t s = 5; s <= seconds; s += 5) {
    std::this_thread::sleep_until(t0 + std::chrono::seconds{s});
    rss.push_back(c.status("VmRSS") / 1024);
    std::printf("    t=%2zu s: RSS %.1f MiB, events read %.0f/s so far\n", s,
                rss.back(),
                static_cast<double>(server.events_sent() - sent0)
                    / bench::seconds_since(t0));
    std::fflush(stdout);
  }
  std::printf("  flood: RSS min %.1f, median %.1f, max %.1f MiB over %zu s; "
              "peak (VmHWM) %.1f MiB; %.0f calls finalized\n",
              *std::min_element(rss.begin(), rss.end()), bench::median(rss),
              *std::max_element(rss.begin(), rss.end()), seconds,
              c.status("VmHWM") / 1024,
              c.metric("switchboard_tracker_calls_total"));
  c.stop();
}
