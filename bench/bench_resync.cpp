// Re-login to re-sync complete: 1,000 channels (500 answered calls that
// never end) are up on the test PBX when it drops the connection; after the
// reconnect the client logs in again and asks CoreShowChannels. Measured:
// from the second Login action arriving at the PBX to the tracker's gap of
// that re-sync (sent once CoreShowChannelsComplete is applied) arriving.

#include "bench/bench.hpp"

#include <condition_variable>
#include <mutex>

#include "tests/fixtures/ami_server.hpp"
#include "tests/fixtures/e2e_harness.hpp"
#include "tests/fixtures/synthetic_capture.hpp"
#include "tests/fixtures/temp_dir.hpp"

namespace {

using namespace sb;
using steady = std::chrono::steady_clock;

struct gap_log {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<std::pair<steady::time_point, size_t>> gaps;
};

} // namespace

SB_BENCH("resync: re-login to re-sync complete, 1,000 live channels") {
  test::repeat_options opts;
  opts.copies = 500;
  opts.drop_endings = true;
  opts.drop_events = test::events_outside_call_cdr();
  auto capture
      = test::repeat_capture("dev-01-inbound-answered-caller-hangup", opts);
  test::scratch_dir dir{"sb-bench-resync"};
  test::write_capture(dir.file("live.ami"), capture.bytes);
  std::vector<double> millis;
  for (int run = 0; run < 5; ++run) {
    ami::replay_options replay;
    replay.capture_path = dir.file("live.ami");
    replay.close_after_events = capture.events;
    replay.max_drops = 1;
    // Not test::start_replay: it FAILs through Catch, which the bench
    // does not run.
    auto started = ami::replay_server::start(replay);
    if (!started) {
      std::printf("  replay server: %s\n",
                  caf::to_string(started.error()).c_str());
      return;
    }
    auto pbx = std::move(*started);
    test::scratch_dir run_dir{"sb-bench-resync-run"};
    test::pipeline p{"sqlite:" + run_dir.file("crm.db"), run_dir.file("spool"),
                     *pbx, "bench"};
    auto log = std::make_shared<gap_log>();
    auto observer = p.sys().spawn([log](caf::event_based_actor*) {
      return caf::behavior{[log](cdr_gap_atom, const cdr_gap& gap) {
        std::lock_guard<std::mutex> guard{log->mtx};
        log->gaps.emplace_back(steady::now(), gap.live.size());
        log->cv.notify_all();
      }};
    });
    caf::anon_send(p.srv().tracker(), rewire_atom_v, std::string{"bench"},
                   observer);
    std::unique_lock<std::mutex> lock{log->mtx};
    // The re-sync after the second login (the one after the drop) lists
    // the 500 calls; the start-up one may list some already.
    auto resync = [&] {
      auto logins = pbx->login_times();
      if (logins.size() >= 2)
        for (auto& g : log->gaps)
          if (g.second > 0 && g.first >= logins[1])
            return &g;
      return static_cast<std::pair<steady::time_point, size_t>*>(nullptr);
    };
    bool done = log->cv.wait_for(lock, std::chrono::seconds{60},
                                 [&] { return resync() != nullptr; });
    // The actor system waits for every actor at its end: this one too.
    caf::anon_send_exit(observer, caf::exit_reason::user_shutdown);
    if (!done) {
      std::printf("  run %d: no second re-sync within 60 s (%zu gaps)\n", run,
                  log->gaps.size());
      continue;
    }
    auto logins = pbx->login_times();
    auto* gap = resync();
    auto ms
        = std::chrono::duration<double, std::milli>(gap->first - logins[1])
              .count();
    millis.push_back(ms);
    std::printf("  run %d: %.1f ms (%zu calls re-attached)\n", run, ms,
                gap->second);
    lock.unlock();
    p.stop();
  }
  std::printf("  median: %.1f ms from re-login to re-sync complete "
              "(1,000 channels)\n",
              bench::median(millis));
}
