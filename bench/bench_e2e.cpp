// End-to-end figures: AMI over loopback from the replay server ->
// sb::server (ami_connection -> ami_parser -> call_tracker ->
// customer_matcher -> comms_log_writer) -> SQLite (WAL) / PostgreSQL.
//
// The load is the recorded 50-call burst (dev-11) repeated with renumbered
// Uniqueids / Linkedids (tests/fixtures/synthetic_capture.hpp), so every
// copy is 50 new calls. Two streams:
//   - "call,cdr": what a real Asterisk sends to our default login
//     (`Events: call,cdr`): the dialplan, security and agent classes
//     (VarSet, Newexten, ...) left out: about 20 events per call;
//   - "full": the recording as taken with `Events: on`, about 81 events and
//     37 KB per call, three quarters of it VarSet.
//
// Cases:
//   - calls/s from the first byte (the Login) to the last committed row,
//     median of 3 runs, with the process CPU per call, the busy time of
//     every pipeline actor, and the customer matcher's libphonenumber cost
//     measured alone (the largest single cost; see the issue-3 report);
//   - p50 / p99 latency from the moment the replay server has written a
//     call's last Hangup to the moment its row is visible in the database,
//     paced at 1,000 calls/s;
//   - memory with 10,000 live calls (every Hangup and Cdr removed).
// PostgreSQL runs only with SB_TEST_PG_URL (tests/with-databases.sh).

#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include "adapters/ami/codec.hpp"
#include "adapters/ami/replay_server.hpp"
#include "adapters/metrics/registry.hpp"
#include "adapters/phone/normalizer.hpp"
#include "adapters/store/database.hpp"
#include "bench/bench.hpp"
#include "core/db_url.hpp"
#include "core/log.hpp"
#include "domain/call_correlator.hpp"
#include "tests/fixtures/capture.hpp"
#include "tests/fixtures/e2e_harness.hpp"
#include "tests/fixtures/synthetic_capture.hpp"

namespace {

using namespace sb;
using steady = std::chrono::steady_clock;

constexpr const char* burst = "dev-11-burst-50";

/// One database for one run: a new SQLite file or a new PostgreSQL database.
struct run_db {
  std::string url;
  std::string sqlite_path;
  std::unique_ptr<test::pg_scratch_database> pg;
};

run_db fresh_db(bool postgres, test::scratch_dir& dir, int run) {
  run_db db;
  if (postgres) {
    db.pg = std::make_unique<test::pg_scratch_database>("sb_bench");
    db.url = db.pg->url();
  } else {
    db.sqlite_path = dir.file("crm-" + std::to_string(run) + ".db");
    db.url = "sqlite:" + db.sqlite_path;
  }
  // Schema created before the clock starts.
  auto opened = store::database::open(db.url);
  if (!opened)
    throw std::runtime_error("cannot open " + sb::redact_url(db.url) + ": "
                             + caf::to_string(opened.error()));
  return db;
}

std::unique_ptr<store::database> open_reader(const run_db& db) {
  auto opened = store::database::open(db.url);
  if (!opened)
    throw std::runtime_error("cannot open reader");
  return std::move(*opened);
}

int64_t rows(store::database& db) {
  auto n = db.count_comms();
  return n ? *n : -1;
}

struct synthetic {
  std::string path;
  size_t events = 0;
  size_t calls = 0;
  size_t bytes = 0;
};

synthetic make_capture(test::scratch_dir& dir, const std::string& name,
                       size_t copies, bool call_cdr_only,
                       bool drop_endings = false) {
  test::repeat_options opts;
  opts.copies = copies;
  if (call_cdr_only)
    opts.drop_events = test::events_outside_call_cdr();
  opts.drop_endings = drop_endings;
  auto capture = test::repeat_capture(burst, opts);
  synthetic s;
  s.path = dir.file(name + ".ami");
  s.events = capture.events;
  s.calls = capture.calls;
  s.bytes = capture.bytes.size();
  test::write_capture(s.path, capture.bytes);
  return s;
}

std::unique_ptr<ami::replay_server> start_pbx(const synthetic& capture,
                                              double events_per_second = 0) {
  ami::replay_options opts;
  opts.capture_path = capture.path;
  opts.events_per_second = events_per_second;
  auto started = ami::replay_server::start(opts);
  if (!started)
    throw std::runtime_error("replay server: "
                             + caf::to_string(started.error()));
  return std::move(*started);
}

/// Copies of the 50-call burst for the throughput cases: 400 (20,000
/// calls) unless SB_BENCH_E2E_COPIES says otherwise (small runs under
/// valgrind --tool=callgrind).
size_t throughput_copies(size_t fallback) {
  if (auto* text = std::getenv("SB_BENCH_E2E_COPIES"))
    return static_cast<size_t>(std::max(1L, std::atol(text)));
  return fallback;
}

std::string pbx_name() {
  static int n = 0;
  return "bench-" + std::to_string(++n);
}

/// Starts a new peak-RSS window: VmHWM restarts from the current RSS
/// (Linux: `5` to /proc/self/clear_refs). False when the kernel refuses.
bool reset_peak_rss() {
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (f == nullptr)
    return false;
  bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

/// The 1-minute load average: the machine is shared, figures depend on it.
double load_average() {
  double one = 0;
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &one) != 1)
      one = 0;
    std::fclose(f);
  }
  return one;
}

// -- where the time goes -----------------------------------------------------

const char* const stages[] = {"ami_connection", "ami_parser", "call_tracker",
                              "customer_matcher", "comms_log_writer"};

/// Busy seconds and messages per pipeline actor, plus process CPU seconds.
struct stage_snapshot {
  std::map<std::string, double> busy;
  std::map<std::string, double> messages;
  double cpu = 0;
};

double process_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

stage_snapshot snapshot() {
  stage_snapshot s;
  for (auto* name : stages) {
    auto& m = metrics::global().actor(name);
    s.busy[name] = m.message_seconds->sum();
    s.messages[name] = m.messages_handled->value();
  }
  s.cpu = process_cpu_seconds();
  return s;
}

void print_stages(const stage_snapshot& a, const stage_snapshot& b, double wall,
                  size_t calls) {
  auto cpu = b.cpu - a.cpu;
  std::printf("    where the time went (median run): wall %.3f s, process "
              "CPU %.3f s (%.0f%% of one core; the machine's 2 cores are "
              "shared), %.1f us CPU per call = at most %.0f calls/s per core "
              "for everything in this process, replay server included\n",
              wall, cpu, 100 * cpu / wall,
              1e6 * cpu / static_cast<double>(calls),
              static_cast<double>(calls) / cpu);
  std::printf("      actor handler wall time (inflated when other processes "
              "hold the CPU):\n");
  double actors = 0;
  for (auto* name : stages) {
    auto busy = b.busy.at(name) - a.busy.at(name);
    auto msgs = b.messages.at(name) - a.messages.at(name);
    actors += busy;
    std::printf("      %-17s busy %7.3f s (%5.1f%% of wall) in %8.0f "
                "messages, %8.1f us/message\n",
                name, busy, 100 * busy / wall, msgs,
                msgs > 0 ? 1e6 * busy / msgs : 0.0);
  }
  (void)actors;
}

// -- throughput ---------------------------------------------------------------

/// The customer matcher's per-call work in isolation: libphonenumber
/// normalization of the load's outside numbers, one thread, no actors.
void report_normalizer_cost() {
  auto expected = test::load_expected(burst);
  std::vector<std::string> numbers;
  for (auto& call : expected.calls)
    if (call.direction != call_direction::internal)
      numbers.push_back(call.external_number);
  phone::normalizer normalizer{"GB"};
  std::vector<double> micros;
  size_t sink = 0;
  for (int run = 0; run < 5; ++run) {
    auto t0 = steady::now();
    const int rounds = 40;
    for (int k = 0; k < rounds; ++k)
      for (auto& n : numbers)
        sink += normalizer.to_e164(n).size();
    micros.push_back(1e6 * bench::seconds_since(t0)
                     / static_cast<double>(rounds * numbers.size()));
  }
  std::printf("    isolated: phone::normalizer::to_e164 on this load's %zu "
              "outside numbers: %.1f us per call (median of 5, one thread; "
              "checksum %zu)\n",
              numbers.size(), bench::median(micros), sink);
}

struct throughput_run {
  double calls_per_second = 0;
  /// Peak RSS above the RSS before the server started: what the pipeline
  /// buffered while the socket outran it.
  double peak_growth = 0;
  double stream_seconds = 0; // login -> last event written by the server
  double total_seconds = 0;  // login -> last row committed
  stage_snapshot before, after;
};

throughput_run run_throughput(const synthetic& capture, bool postgres,
                              test::scratch_dir& dir, int run) {
  auto db = fresh_db(postgres, dir, run);
  auto reader = open_reader(db);
  auto pbx = start_pbx(capture);
  throughput_run r;
  malloc_trim(0);
  auto rss0 = static_cast<double>(bench::current_rss_bytes());
  bool peak_window = reset_peak_rss();
  r.before = snapshot();
  test::pipeline p{db.url, dir.file("spool-" + std::to_string(run)), *pbx,
                   pbx_name()};
  if (!test::wait_until([&] { return !pbx->login_times().empty(); },
                        std::chrono::seconds{10}))
    throw std::runtime_error("no login");
  auto t0 = pbx->login_times().front();
  steady::time_point streamed{};
  const auto want = static_cast<int64_t>(capture.calls);
  bool done = test::wait_until(
      [&] {
        if (streamed == steady::time_point{}
            && pbx->events_sent() == capture.events)
          streamed = steady::now();
        return rows(*reader) >= want;
      },
      std::chrono::seconds{600}, std::chrono::milliseconds{2});
  auto t1 = steady::now();
  r.after = snapshot();
  r.peak_growth
      = peak_window ? static_cast<double>(bench::peak_rss_bytes()) - rss0 : -1;
  if (!done)
    std::printf("    run %d: TIMEOUT with %lld of %lld rows\n", run,
                static_cast<long long>(rows(*reader)),
                static_cast<long long>(want));
  if (streamed == steady::time_point{})
    streamed = t1;
  r.total_seconds = std::chrono::duration<double>(t1 - t0).count();
  r.stream_seconds = std::chrono::duration<double>(streamed - t0).count();
  r.calls_per_second = static_cast<double>(capture.calls) / r.total_seconds;
  p.stop();
  return r;
}

void report_throughput(const char* label, const synthetic& capture,
                       bool postgres, double goal) {
  test::scratch_dir dir{"sb-bench-e2e"};
  std::vector<throughput_run> runs;
  for (int run = 0; run < 3; ++run) {
    runs.push_back(run_throughput(capture, postgres, dir, run));
    auto& r = runs.back();
    std::printf("    run %d: %.0f calls/s (%.3f s login -> last row; stream "
                "written in %.3f s = %.0f events/s; peak RSS +%.0f MB; load "
                "average %.1f)\n",
                run, r.calls_per_second, r.total_seconds, r.stream_seconds,
                static_cast<double>(capture.events) / r.stream_seconds,
                r.peak_growth / 1e6, load_average());
  }
  std::vector<double> rates;
  for (auto& r : runs)
    rates.push_back(r.calls_per_second);
  auto med = bench::median(rates);
  std::printf("  %s: %.0f calls/s median of 3 (%.0f events/s, %.1f MB/s of "
              "AMI; min %.0f, max %.0f; goal >= %.0f)\n",
              label, med,
              med * static_cast<double>(capture.events)
                  / static_cast<double>(capture.calls),
              med * static_cast<double>(capture.bytes)
                  / static_cast<double>(capture.calls) / 1e6,
              bench::percentile(rates, 0), bench::percentile(rates, 1), goal);
  // The breakdown of the median run.
  auto sorted = runs;
  std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) {
    return a.calls_per_second < b.calls_per_second;
  });
  auto& mid = sorted[sorted.size() / 2];
  print_stages(mid.before, mid.after, mid.total_seconds, capture.calls);
  report_normalizer_cost();
}

void describe(const synthetic& s, const char* stream) {
  std::printf("  load: %zu calls, %zu events (%.1f per call), %.1f MB (%s "
              "stream)\n",
              s.calls, s.events,
              static_cast<double>(s.events) / static_cast<double>(s.calls),
              static_cast<double>(s.bytes) / 1e6, stream);
}

bool postgres_or_say(const char* what) {
  if (!test::test_pg_url().empty())
    return true;
  std::printf("  %s: SKIPPED (SB_TEST_PG_URL not set; run bench through "
              "tests/with-databases.sh)\n",
              what);
  return false;
}

// -- latency ------------------------------------------------------------------

/// Index (in stream order) of every call's last Hangup event.
std::unordered_map<std::string, size_t>
last_hangups(const ami::replay_server& pbx) {
  std::unordered_map<std::string, size_t> last;
  auto& frames = pbx.capture_frames();
  for (size_t i = 0; i < frames.size(); ++i) {
    if (frames[i].compare(0, 13, "Event: Hangup") != 0
        || (frames[i].size() > 13 && frames[i][13] != '\r'
            && frames[i][13] != '\n'))
      continue;
    ami_event ev;
    if (!ami::parse_frame(std::string_view{frames[i]}, ev))
      continue;
    last[std::string{ev.get("Linkedid")}] = i;
  }
  return last;
}

/// Watches the rows appear: (ext_message_id -> first time seen).
class commit_watcher {
public:
  commit_watcher(const run_db& db) {
    if (db.pg)
      sql_.open(soci::postgresql, test::pg_scratch_database::soci_url(db.url));
    else
      sql_.open(soci::sqlite3, "db=" + db.sqlite_path + " timeout=5");
  }

  /// New rows since the last poll, stamped now.
  void poll() {
    std::vector<long long> ids(1000);
    std::vector<std::string> keys(1000);
    sql_ << "SELECT id, ext_message_id FROM crm_comms_log WHERE id > :last "
            "ORDER BY id LIMIT 1000",
        soci::into(ids), soci::into(keys), soci::use(last_id_);
    auto now = steady::now();
    for (size_t i = 0; i < ids.size(); ++i) {
      seen_.emplace(keys[i], now);
      last_id_ = std::max(last_id_, ids[i]);
    }
  }

  const std::unordered_map<std::string, steady::time_point>& seen() const {
    return seen_;
  }

private:
  soci::session sql_;
  long long last_id_ = 0;
  std::unordered_map<std::string, steady::time_point> seen_;
};

struct latency_run {
  std::vector<double> millis;
  size_t missing = 0;
};

latency_run run_latency(const synthetic& capture, double calls_per_second,
                        bool postgres, test::scratch_dir& dir, int run) {
  auto db = fresh_db(postgres, dir, 100 + run);
  auto events_per_second = calls_per_second
                           * static_cast<double>(capture.events)
                           / static_cast<double>(capture.calls);
  auto pbx = start_pbx(capture, events_per_second);
  auto hangups = last_hangups(*pbx);
  // When the replay server finished writing the first N events: polled from
  // its thread-safe counter, recorded on change.
  std::vector<std::pair<steady::time_point, size_t>> sent;
  sent.reserve(100000);
  std::atomic<bool> stop{false};
  std::thread sender_watch{[&] {
    size_t last = 0;
    while (!stop.load()) {
      auto n = pbx->events_sent();
      if (n != last) {
        sent.emplace_back(steady::now(), n);
        last = n;
      }
      std::this_thread::sleep_for(std::chrono::microseconds{100});
    }
  }};
  commit_watcher commits{db};
  latency_run r;
  {
    test::pipeline p{db.url, dir.file("spool-l" + std::to_string(run)), *pbx,
                     pbx_name()};
    test::wait_until(
        [&] {
          commits.poll();
          return commits.seen().size() >= capture.calls;
        },
        std::chrono::seconds{120}, std::chrono::milliseconds{1});
    stop = true;
    sender_watch.join();
    p.stop();
  }
  for (auto& [linkedid, index] : hangups) {
    auto c = commits.seen().find(linkedid);
    // First record where more than `index` events were written.
    auto s = std::upper_bound(
        sent.begin(), sent.end(), index,
        [](size_t i, const std::pair<steady::time_point, size_t>& x) {
          return i < x.second;
        });
    if (c == commits.seen().end() || s == sent.end()) {
      ++r.missing;
      continue;
    }
    r.millis.push_back(
        std::chrono::duration<double, std::milli>(c->second - s->first)
            .count());
  }
  return r;
}

void report_latency(const synthetic& capture, bool postgres) {
  test::scratch_dir dir{"sb-bench-e2e"};
  const double rate = 1000;
  std::vector<double> p50s, p99s, maxes;
  for (int run = 0; run < 3; ++run) {
    auto r = run_latency(capture, rate, postgres, dir, run);
    p50s.push_back(bench::percentile(r.millis, 0.5));
    p99s.push_back(bench::percentile(r.millis, 0.99));
    maxes.push_back(bench::percentile(r.millis, 1.0));
    std::printf(
        "    run %d: %zu calls, p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, "
        "max %.2f ms (load average %.1f)%s\n",
        run, r.millis.size(), p50s.back(), bench::percentile(r.millis, 0.9),
        p99s.back(), maxes.back(), load_average(),
        r.missing > 0
            ? (", " + std::to_string(r.missing) + " calls not seen").c_str()
            : "");
  }
  std::printf("  %s at %.0f calls/s: p50 %.2f ms, p99 %.2f ms (medians of 3 "
              "runs; goal p99 < 50 ms). Of each figure, %.0f ms is the "
              "tracker waiting for trailing Cdr events after the last Hangup "
              "(correlator_options::cdr_grace_seconds); sent time polled "
              "every 0.1 ms, rows every 1 ms\n",
              postgres ? "PostgreSQL" : "SQLite", rate, bench::median(p50s),
              bench::median(p99s),
              1000 * correlator_options{}.cdr_grace_seconds);
}

// -- memory -------------------------------------------------------------------

struct memory_run {
  size_t live = 0;
  double rss_delta = 0;
  /// Bytes malloc hands out (all arenas), not counting freed or cached
  /// pages: what the process holds, without fragmentation noise.
  double heap_delta = 0;
  /// Peak RSS during the run above the RSS before the server started.
  double peak_growth = 0;
};

double heap_in_use() {
  auto info = mallinfo2();
  return static_cast<double>(info.uordblks + info.hblkhd);
}

memory_run run_live_calls(const synthetic& capture, test::scratch_dir& dir,
                          int run) {
  auto db = fresh_db(false, dir, 200 + run);
  auto pbx = start_pbx(capture);
  malloc_trim(0);
  auto rss0 = static_cast<double>(bench::current_rss_bytes());
  auto heap0 = heap_in_use();
  bool peak_window = reset_peak_rss();
  memory_run r;
  test::pipeline p{db.url, dir.file("spool-m" + std::to_string(run)), *pbx,
                   pbx_name()};
  int64_t live = 0;
  test::wait_until(
      [&] {
        if (pbx->events_sent() != capture.events)
          return false;
        live = p.live_calls();
        return live >= static_cast<int64_t>(capture.calls);
      },
      std::chrono::seconds{120}, std::chrono::milliseconds{20});
  // The events after the last Newchannel may still be on their way: wait
  // until parser and tracker stop handling messages.
  auto handled = [] {
    return metrics::global().actor("ami_parser").messages_handled->value()
           + metrics::global().actor("call_tracker").messages_handled->value();
  };
  double last_handled = -1;
  test::wait_until(
      [&] {
        auto now = handled();
        bool still = now == last_handled;
        last_handled = now;
        return still;
      },
      std::chrono::seconds{10}, std::chrono::milliseconds{50});
  malloc_trim(0);
  r.rss_delta = static_cast<double>(bench::current_rss_bytes()) - rss0;
  r.heap_delta = heap_in_use() - heap0;
  r.peak_growth
      = peak_window ? static_cast<double>(bench::peak_rss_bytes()) - rss0 : -1;
  r.live = static_cast<size_t>(std::max<int64_t>(live, 0));
  p.stop(std::chrono::seconds{1});
  return r;
}

} // namespace

SB_BENCH("e2e: calls/s AMI -> SQLite (WAL), call,cdr stream") {
  log::set_level(log::level::warning);
  test::scratch_dir dir{"sb-bench-e2e"};
  auto capture = make_capture(dir, "calls", throughput_copies(400), true);
  describe(capture, "call,cdr");
  report_throughput("SQLite", capture, false, 50000);
}

SB_BENCH("e2e: calls/s AMI -> SQLite (WAL), full stream (Events: on)") {
  log::set_level(log::level::warning);
  test::scratch_dir dir{"sb-bench-e2e"};
  auto capture = make_capture(dir, "calls-full", throughput_copies(100), false);
  describe(capture, "full");
  report_throughput("SQLite, full stream", capture, false, 50000);
}

SB_BENCH("e2e: calls/s AMI -> PostgreSQL, call,cdr stream") {
  log::set_level(log::level::warning);
  if (!postgres_or_say("PostgreSQL throughput"))
    return;
  test::scratch_dir dir{"sb-bench-e2e"};
  auto capture = make_capture(dir, "calls", throughput_copies(400), true);
  describe(capture, "call,cdr");
  report_throughput("PostgreSQL", capture, true, 20000);
}

SB_BENCH("e2e: latency last Hangup -> committed row at 1,000 calls/s, SQLite") {
  log::set_level(log::level::warning);
  test::scratch_dir dir{"sb-bench-e2e"};
  auto capture = make_capture(dir, "calls-5k", 100, true);
  describe(capture, "call,cdr");
  report_latency(capture, false);
}

SB_BENCH("e2e: latency last Hangup -> committed row at 1,000 calls/s, "
         "PostgreSQL") {
  log::set_level(log::level::warning);
  if (!postgres_or_say("PostgreSQL latency"))
    return;
  test::scratch_dir dir{"sb-bench-e2e"};
  auto capture = make_capture(dir, "calls-5k", 100, true);
  describe(capture, "call,cdr");
  report_latency(capture, true);
}

SB_BENCH("e2e: memory with 10,000 live calls (no Hangup ever comes)") {
  log::set_level(log::level::warning);
  test::scratch_dir dir{"sb-bench-e2e"};
  // 1,000 and 10,000 live calls: the difference is the cost of 9,000 calls
  // without the fixed cost of a running server.
  auto small = make_capture(dir, "live-1k", 20, true, true);
  auto large = make_capture(dir, "live-10k", 200, true, true);
  std::vector<double> rss_all_in, rss_marginal, heap_all_in, heap_marginal,
      peak_per_call;
  for (int run = 0; run < 3; ++run) {
    auto a = run_live_calls(small, dir, run);
    auto b = run_live_calls(large, dir, run);
    auto extra = static_cast<double>(b.live - a.live);
    rss_all_in.push_back(b.rss_delta / static_cast<double>(b.live));
    rss_marginal.push_back((b.rss_delta - a.rss_delta) / extra);
    heap_all_in.push_back(b.heap_delta / static_cast<double>(b.live));
    heap_marginal.push_back((b.heap_delta - a.heap_delta) / extra);
    peak_per_call.push_back(b.peak_growth / static_cast<double>(b.live));
    std::printf("    run %d: %zu live calls: heap +%.2f MB, RSS +%.2f MB; "
                "%zu live calls: heap +%.2f MB, RSS +%.2f MB, peak RSS "
                "+%.2f MB\n",
                run, a.live, a.heap_delta / 1e6, a.rss_delta / 1e6, b.live,
                b.heap_delta / 1e6, b.rss_delta / 1e6, b.peak_growth / 1e6);
  }
  std::printf("  per live call (median of 3; goal < 2048 B): heap in use "
              "%.0f B marginal (10k vs 1k), %.0f B all-in (server growth / "
              "10k); RSS %.0f B marginal, %.0f B all-in\n",
              bench::median(heap_marginal), bench::median(heap_all_in),
              bench::median(rss_marginal), bench::median(rss_all_in));
  std::printf("  peak RSS growth of the whole server while 10,000 calls "
              "went live: %.0f B per live call (median of 3; includes "
              "transient event batches, the SQLite connection, CAF)\n",
              bench::median(peak_per_call));
}
