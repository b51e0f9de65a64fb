// AMI ingest: (a) the splitter + parser alone on one core, (b) a loopback TCP
// replay server -> ami_connection -> ami_parser -> a counting sink actor.
// Input: the largest capture (dev-11-burst-50), repeated past 1,000,000
// events. Prints events/s and MB/s; never fails on timing.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <caf/all.hpp>

#include "actors/ami_connection.hpp"
#include "actors/ami_parser.hpp"
#include "adapters/ami/codec.hpp"
#include "adapters/ami/replay_server.hpp"
#include "adapters/metrics/registry.hpp"
#include "bench/bench.hpp"
#include "config/config.hpp"
#include "messages/ami_connection_actor.hpp"
#include "messages/ami_parser_actor.hpp"
#include "messages/call_tracker_actor.hpp"
#include "messages/type_ids.hpp"
#include "tests/fixtures/actor_system.hpp"

namespace {

using sb::bench::median;
using sb::bench::seconds_since;

const std::string capture_path = SB_FIXTURES_DIR "/ami/dev-11-burst-50.ami";
constexpr size_t target_events = 1'000'000;

std::string read_capture() {
  std::ifstream in{capture_path, std::ios::binary};
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

/// The capture without its banner line: a stream of frames that can be fed
/// again and again to one splitter.
std::string frames_only(const std::string& capture) {
  auto nl = capture.find('\n');
  return nl == std::string::npos ? std::string{} : capture.substr(nl + 1);
}

/// CPU seconds used so far by this thread (or process): the machine is
/// shared, so wall time alone under-reports what one core can do.
double cpu_seconds(clockid_t clock = CLOCK_THREAD_CPUTIME_ID) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct pass_result {
  size_t events = 0;
  size_t bytes = 0;
  double seconds = 0;
  double cpu = 0;
};

/// One pass: feed `body` `repeat` times in `chunk`-byte reads; `on_frame`
/// does the parsing.
template <class OnFrame>
pass_result run_pass(const std::string& body, size_t repeat, size_t chunk,
                     OnFrame on_frame) {
  pass_result result;
  sb::ami::frame_splitter splitter;
  splitter.expect_banner(false);
  auto t0 = std::chrono::steady_clock::now();
  auto c0 = cpu_seconds();
  for (size_t r = 0; r < repeat; ++r) {
    std::string_view rest{body};
    while (!rest.empty()) {
      auto n = std::min(chunk, rest.size());
      splitter.feed(
          rest.substr(0, n), [](std::string_view) {},
          [&](std::string_view frame) {
            if (on_frame(frame))
              ++result.events;
          });
      rest.remove_prefix(n);
    }
    result.bytes += body.size();
  }
  result.seconds = seconds_since(t0);
  result.cpu = cpu_seconds() - c0;
  return result;
}

void report(const char* what, const std::vector<pass_result>& runs) {
  std::vector<double> eps;
  std::vector<double> mbps;
  std::vector<double> cpu_eps;
  for (auto& r : runs) {
    eps.push_back(static_cast<double>(r.events) / r.seconds);
    mbps.push_back(static_cast<double>(r.bytes) / r.seconds / 1e6);
    cpu_eps.push_back(static_cast<double>(r.events) / r.cpu);
  }
  std::printf("  %-38s %9.0f events/s %7.1f MB/s wall | %9.0f events/s per "
              "CPU-second  (median of %zu, %zu events each)\n",
              what, median(eps), median(mbps), median(cpu_eps), runs.size(),
              runs.front().events);
  std::fflush(stdout);
}

} // namespace

SB_BENCH("ami splitter+parser") {
  auto body = frames_only(read_capture());
  size_t frames_per_body = 0;
  run_pass(body, 1, body.size(), [&](std::string_view) {
    ++frames_per_body;
    return true;
  });
  if (frames_per_body == 0) {
    std::printf("  cannot read %s\n", capture_path.c_str());
    return;
  }
  size_t repeat = (target_events + frames_per_body - 1) / frames_per_body;
  std::printf("  input: %s, %zu frames, %.2f MB, repeated %zu times\n",
              capture_path.c_str(), frames_per_body,
              static_cast<double>(body.size()) / 1e6, repeat);
  constexpr size_t read_size = 256 * 1024; // what the client reads at once
  {
    std::vector<pass_result> runs;
    for (int i = 0; i < 5; ++i)
      runs.push_back(run_pass(body, repeat, read_size,
                              [](std::string_view) { return true; }));
    report("splitter only", runs);
  }
  {
    // What one core does on the whole path: split, then parse each frame
    // into a fresh ami_event, as the parser actor does for every frame.
    std::vector<pass_result> runs;
    for (int i = 0; i < 5; ++i) {
      std::vector<sb::ami_event> batch;
      batch.reserve(1024);
      runs.push_back(
          run_pass(body, repeat, read_size, [&](std::string_view frame) {
            auto& ev = batch.emplace_back();
            bool ok = sb::ami::parse_frame(frame, ev);
            if (batch.size() == 1024)
              batch.clear();
            return ok;
          }));
    }
    report("splitter + parser (fresh ami_event)", runs);
  }
  {
    // The same with one reused ami_event: the parsing work without the
    // allocator.
    std::vector<pass_result> runs;
    sb::ami_event ev;
    for (int i = 0; i < 5; ++i)
      runs.push_back(
          run_pass(body, repeat, read_size, [&](std::string_view frame) {
            return sb::ami::parse_frame(frame, ev);
          }));
    report("splitter + parser (reused ami_event)", runs);
  }
  std::printf("  peak RSS %.1f MiB\n",
              static_cast<double>(sb::bench::peak_rss_bytes()) / (1 << 20));
}

namespace {

/// Counts events and tells `waiter` once `target` arrived. Dynamically typed
/// (handed out as a call_tracker_actor): it only needs the event batches.
caf::behavior counting_sink(caf::event_based_actor* self, uint64_t target,
                            caf::actor waiter) {
  self->set_default_handler(caf::drop);
  auto events = std::make_shared<uint64_t>(0);
  return {
      [=](sb::ami_event_batch& batch) {
        auto before = *events;
        *events += batch.events.size();
        if (before < target && *events >= target)
          caf::anon_send(waiter, *events);
      },
  };
}

} // namespace

SB_BENCH("ami loopback tcp -> actors") {
  sb::test::test_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  std::vector<double> eps;
  std::vector<double> mbps;
  std::vector<double> cpu_per_event;
  for (int run = 0; run < 3; ++run) {
    sb::ami::replay_options options;
    options.capture_path = capture_path;
    options.loop = true;
    auto server = sb::ami::replay_server::start(options);
    if (!server) {
      std::printf("  replay server: %s\n",
                  caf::to_string(server.error()).c_str());
      return;
    }
    auto& srv = **server;
    // Whole replays of the capture, at least target_events.
    auto per_replay = srv.capture_events();
    auto target = (target_events + per_replay - 1) / per_replay * per_replay;
    size_t bytes_per_replay = 0;
    for (auto& f : srv.capture_frames())
      bytes_per_replay += f.size() + 4;
    sb::pbx_config pbx;
    pbx.name = "bench";
    pbx.host = "127.0.0.1";
    pbx.port = srv.port();
    pbx.username = options.username;
    pbx.secret = options.secret;
    pbx.ping_interval_seconds = 5;
    auto sink = sys.spawn(counting_sink, static_cast<uint64_t>(target),
                          caf::actor_cast<caf::actor>(self));
    auto parser = sb::spawn_ami_parser(
        sys, pbx.name, caf::actor_cast<sb::call_tracker_actor>(sink));
    auto* parser_time
        = sb::metrics::global().actor("ami_parser").message_seconds;
    auto parser_busy0 = parser_time->sum();
    auto t0 = std::chrono::steady_clock::now();
    auto c0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
    auto conn = sb::spawn_ami_connection(
        sys, pbx, parser, sb::call_tracker_actor{}, sb::ami_supervisor_actor{});
    uint64_t got = 0;
    self->receive([&](uint64_t n) { got = n; },
                  caf::after(std::chrono::seconds(120)) >> [] {});
    auto secs = seconds_since(t0);
    auto cpu = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
    // Time inside the parser's handler (wall time, so it includes being
    // preempted on this shared machine).
    auto parser_busy = parser_time->sum() - parser_busy0;
    self->send_exit(conn, caf::exit_reason::user_shutdown);
    self->send_exit(parser, caf::exit_reason::user_shutdown);
    self->send_exit(sink, caf::exit_reason::user_shutdown);
    srv.stop();
    if (got < target) {
      std::printf("  run %d: only %llu of %zu events arrived\n", run,
                  static_cast<unsigned long long>(got), target);
      continue;
    }
    eps.push_back(static_cast<double>(got) / secs);
    mbps.push_back(static_cast<double>(target / per_replay * bytes_per_replay)
                   / secs / 1e6);
    cpu_per_event.push_back(cpu / static_cast<double>(got) * 1e9);
    std::printf("  run %d: %llu events in %.3f s (process CPU %.3f s, server "
                "included; parser busy %.0f ns/event)\n",
                run, static_cast<unsigned long long>(got), secs, cpu,
                parser_busy / static_cast<double>(got) * 1e9);
  }
  if (!eps.empty())
    std::printf("  %-44s %9.0f events/s  %7.1f MB/s  (median of %zu)\n",
                "replay server -> connection -> parser -> sink", median(eps),
                median(mbps), eps.size());
  if (!cpu_per_event.empty())
    std::printf("  %-44s %9.0f ns of CPU per event (all threads)\n", "",
                median(cpu_per_event));
  std::printf("  peak RSS %.1f MiB\n",
              static_cast<double>(sb::bench::peak_rss_bytes()) / (1 << 20));
}
