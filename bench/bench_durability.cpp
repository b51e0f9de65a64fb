// What the real binary (a child process, SQLite) holds and loses, measured
// from outside against a local replay PBX with a known stream:
//   - a 100,000-call burst at full speed: the child's peak RSS (VmHWM) and
//     calls/s from the login to the last committed row;
//   - SIGTERM in the middle of an 80,000-call burst: the calls in flight,
//     the drain time, and what a restart finds (lost = completed by the PBX
//     and neither committed nor spooled);
//   - kill -9 at 200 calls/s and in a full-speed burst: the calls the PBX
//     had completed (ground truth: the last event of the call was written
//     to the socket) that neither the database nor the spool holds after a
//     restart.
// SB_BENCH_BURST_COPIES sets the burst (copies of the 50-call dev-11, default
// 2000); SB_BENCH_STREAM=full sends every event class (VarSet, ...), else
// the call,cdr classes. SB_BENCH_SWITCHBOARD names another build (before /
// after figures).

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "adapters/ami/replay_server.hpp"
#include "adapters/store/database.hpp"
#include "bench/bench.hpp"
#include "bench/child_process.hpp"
#include "tests/fixtures/synthetic_capture.hpp"
#include "tests/fixtures/temp_dir.hpp"
#include "tests/fixtures/wait.hpp"

namespace {

using namespace sb;
using namespace std::chrono_literals;
using bench::child;
using bench::free_port;
using bench::steady;

struct load {
  std::string path;
  size_t events = 0;
  size_t calls = 0;
  double events_per_call = 0;
};

load make_load(test::scratch_dir& dir, size_t copies) {
  test::repeat_options opts;
  opts.copies = copies;
  auto* stream = std::getenv("SB_BENCH_STREAM");
  if (stream == nullptr || std::string_view{stream} != "full")
    opts.drop_events = test::events_outside_call_cdr();
  auto capture = test::repeat_capture("dev-11-burst-50", opts);
  load l;
  l.path = dir.file("burst-" + std::to_string(copies) + ".ami");
  test::write_capture(l.path, capture.bytes);
  l.events = capture.events;
  l.calls = capture.calls;
  l.events_per_call
      = static_cast<double>(capture.events) / static_cast<double>(capture.calls);
  std::printf("  load: %zu calls, %zu events, %.1f MB (%s)\n", l.calls,
              l.events, static_cast<double>(capture.bytes.size()) / 1e6,
              opts.drop_events.empty() ? "every event class" : "call,cdr");
  return l;
}

int64_t rows(const std::string& db) {
  auto opened = store::database::open("sqlite:" + db);
  if (!opened)
    return -1;
  auto n = (*opened)->count_comms();
  return n ? *n : -1;
}

/// For each event count a PBX may have written, the calls complete by then
/// (their last event among the first n).
std::vector<size_t> completed_by_event(const ami::replay_server& pbx) {
  std::map<std::string, size_t> last;
  auto& frames = pbx.capture_frames();
  for (size_t i = 0; i < frames.size(); ++i) {
    auto at = frames[i].find("Linkedid: ");
    if (at == std::string::npos)
      continue;
    auto end = frames[i].find_first_of("\r\n", at);
    last[frames[i].substr(at + 10, end - at - 10)] = i;
  }
  std::vector<size_t> ends(frames.size() + 1, 0);
  for (auto& [id, i] : last)
    ++ends[i + 1];
  for (size_t i = 1; i < ends.size(); ++i)
    ends[i] += ends[i - 1];
  return ends;
}

struct site {
  test::scratch_dir dir{"sb-bench-durable"};
  std::string db = dir.file("crm.db");
  std::string with_pbx(uint16_t port) const {
    return bench::write_config(dir.path().string(), db, {port}, "call,cdr");
  }
  std::string without_pbx() const {
    return bench::write_config(dir.path().string(), db, {}, "call,cdr");
  }
};

/// Starts the child without a PBX until the spools are empty: then the
/// database holds all the previous run kept.
int64_t recovered_rows(site& s) {
  child c{s.without_pbx(), s.dir.path().string(), free_port()};
  test::wait_until(
      [&] {
        return c.serving() && c.metric("switchboard_writer_spool_depth") == 0
               && c.metric("switchboard_writer_pending") == 0;
      },
      120s, 50ms);
  c.stop();
  return rows(s.db);
}

} // namespace

SB_BENCH("burst: 100,000 calls into the real binary (peak RSS, calls/s)") {
  test::scratch_dir dir{"sb-bench-burst"};
  auto l = make_load(dir, bench::env_count("SB_BENCH_BURST_COPIES", 2000));
  std::vector<double> peaks, rates;
  for (int run = 0; run < 3; ++run) {
    site s;
    ami::replay_options replay;
    replay.capture_path = l.path;
    auto pbx = ami::replay_server::start(replay);
    if (!pbx)
      throw std::runtime_error("replay server");
    child c{s.with_pbx((*pbx)->port()), s.dir.path().string(), free_port()};
    test::wait_until([&] { return !(*pbx)->login_times().empty(); }, 30s,
                     10ms);
    auto t0 = (*pbx)->login_times().front();
    double peak = 0;
    bool done = test::wait_until(
        [&] {
          peak = std::max(peak, c.status("VmHWM"));
          return rows(s.db) >= static_cast<int64_t>(l.calls);
        },
        600s, 100ms);
    auto seconds = std::chrono::duration<double>(steady::now() - t0).count();
    peak = std::max(peak, c.status("VmHWM"));
    peaks.push_back(peak / 1024);
    rates.push_back(static_cast<double>(l.calls) / seconds);
    std::printf("    run %d: %s%.0f calls/s (%.2f s login -> last row), peak "
                "RSS %.1f MiB\n",
                run, done ? "" : "TIMEOUT ", rates.back(), seconds,
                peaks.back());
    std::fflush(stdout);
    c.stop();
  }
  std::printf("  burst: peak RSS %.1f MiB, %.0f calls/s (medians of 3)\n",
              bench::median(peaks), bench::median(rates));
}

SB_BENCH("drain: SIGTERM in the middle of an 80,000-call burst") {
  test::scratch_dir dir{"sb-bench-drain"};
  auto l = make_load(dir, 1600);
  std::vector<double> drains;
  for (int run = 0; run < 3; ++run) {
    site s;
    ami::replay_options replay;
    replay.capture_path = l.path;
    auto pbx = ami::replay_server::start(replay);
    if (!pbx)
      throw std::runtime_error("replay server");
    auto done_by = completed_by_event(**pbx);
    child c{s.with_pbx((*pbx)->port()), s.dir.path().string(), free_port()};
    // Half the burst written by the PBX: what is not committed yet is in
    // flight (socket buffers, pipeline, writer).
    test::wait_until([&] { return (*pbx)->events_sent() >= l.events / 2; },
                     600s, 1ms);
    auto before = rows(s.db);
    drains.push_back(c.stop());
    auto sent = std::min((*pbx)->events_sent(), l.events);
    (*pbx)->stop();
    auto completed = static_cast<int64_t>(done_by[sent]);
    auto after = rows(s.db);
    auto recovered = recovered_rows(s);
    std::printf("    run %d: SIGTERM with %lld calls completed by the PBX, "
                "%lld committed (%lld in flight); exit after %.2f s with "
                "%lld committed; after a restart %lld (lost %lld)\n",
                run, static_cast<long long>(completed),
                static_cast<long long>(before),
                static_cast<long long>(completed - before), drains.back(),
                static_cast<long long>(after),
                static_cast<long long>(recovered),
                static_cast<long long>(completed - recovered));
    std::fflush(stdout);
  }
  std::printf("  drain: %.2f s median of 3\n", bench::median(drains));
}

SB_BENCH("kill -9: calls lost at 200 calls/s and in a full-speed burst") {
  test::scratch_dir dir{"sb-bench-kill"};
  auto l = make_load(dir, 200);
  for (double rate : {200.0, 0.0}) {
    std::vector<double> lost;
    for (int run = 0; run < 3; ++run) {
      site s;
      ami::replay_options replay;
      replay.capture_path = l.path;
      replay.events_per_second = rate * l.events_per_call;
      auto pbx = ami::replay_server::start(replay);
      if (!pbx)
        throw std::runtime_error("replay server");
      auto done_by = completed_by_event(**pbx);
      child c{s.with_pbx((*pbx)->port()), s.dir.path().string(), free_port()};
      test::wait_until([&] { return !(*pbx)->login_times().empty(); }, 30s,
                       10ms);
      if (rate > 0)
        std::this_thread::sleep_for(10s);
      else
        test::wait_until([&] { return (*pbx)->events_sent() >= l.events / 2; },
                         120s, 1ms);
      c.kill9();
      auto sent = std::min((*pbx)->events_sent(), l.events);
      (*pbx)->stop();
      auto completed = static_cast<int64_t>(done_by[sent]);
      auto kept = recovered_rows(s);
      lost.push_back(static_cast<double>(completed - kept));
      std::printf("    %s run %d: %lld calls completed by the PBX, %lld kept "
                  "(database + spool), %lld lost\n",
                  rate > 0 ? "200 calls/s" : "burst", run,
                  static_cast<long long>(completed),
                  static_cast<long long>(kept),
                  static_cast<long long>(completed - kept));
      std::fflush(stdout);
    }
    std::printf("  kill -9 %s: %.0f calls lost (median of 3)\n",
                rate > 0 ? "at 200 calls/s" : "in a burst",
                bench::median(lost));
  }
}
