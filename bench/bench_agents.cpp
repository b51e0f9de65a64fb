// A contact centre's costs on the CloudAgent side: dispositions per second
// end to end with 50 agents (ucid_calls with its durable state on SQLite,
// the session, the local CloudAgent stand-in, CloudAgent's events), the
// CloudAgent requests each logged call costs, the memory of one tracked UCID,
// and the time from a restart to every one of 1,000 pending dispositions
// resumed.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <malloc.h>
#include <unistd.h>

#include <caf/all.hpp>

#include "actors/ozonetel_session.hpp"
#include "actors/ucid_calls.hpp"
#include "adapters/store/database.hpp"
#include "adapters/store/ucid_state.hpp"
#include "bench/bench.hpp"
#include "core/log.hpp"
#include "tests/fixtures/ozonetel_support.hpp"
#include "tests/fixtures/temp_dir.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

/// Bytes handed out by malloc and not freed (glibc): unlike RSS, heap an
/// earlier run freed and this one reuses still counts.
size_t allocated_bytes() {
  return ::mallinfo2().uordblks;
}

sb::ozonetel_config centre_config(const sb::test::ozonetel_server& fake) {
  auto cfg = sb::test::config_for(fake);
  for (int i = 0; i < 50; ++i) {
    sb::ozonetel_agent_config a;
    a.id = "agent" + std::to_string(100 + i);
    a.password = "pw";
    cfg.agents.push_back(a);
  }
  return cfg;
}

struct centre_env {
  sb::test::actor_env env;
  std::shared_ptr<sb::test::call_sink> sink
      = std::make_shared<sb::test::call_sink>();
  sb::customer_matcher_actor matcher;
  sb::ucid_calls_actor calls;

  centre_env(const sb::ozonetel_config& cfg, const std::string& db_url) {
    matcher = env.sys.spawn(sb::test::sink_matcher, sink);
    sb::ucid_calls_options opts;
    opts.db_url = db_url;
    auto session_opts = sb::test::fast_session_options();
    calls = env.sys.spawn<caf::detached>(
        sb::ucid_calls, cfg, matcher,
        [cfg, session_opts](caf::actor_system& sys) {
          return sys.spawn(sb::ozonetel_session, cfg, session_opts);
        },
        opts);
  }

  ~centre_env() {
    caf::anon_send_exit(calls, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(matcher, caf::exit_reason::user_shutdown);
  }

  template <class R, class... Ts>
  R ask(Ts&&... xs) {
    caf::scoped_actor self{env.sys};
    R out{};
    self->request(calls, std::chrono::seconds{30}, std::forward<Ts>(xs)...)
        .receive([&](R& x) { out = std::move(x); }, [](caf::error&) {});
    return out;
  }
};

/// 50 agents, `per_agent` calls each: dial, Answered, Disconnect, dispose.
void dispositions_per_second(int per_agent) {
  std::vector<double> rates;
  double requests_per_call = 0;
  for (int run = 0; run < 3; ++run) {
    sb::test::ozonetel_server fake;
    for (int i = 0; i < 50; ++i)
      fake.add_agent("agent" + std::to_string(100 + i), "pw");
    sb::test::scratch_dir dir{"sb-bench-agents"};
    auto cfg = centre_config(fake);
    centre_env c{cfg, "sqlite:" + (dir.path() / "crm.db").string()};
    auto t0 = clock_type::now();
    std::vector<std::thread> seats;
    for (int i = 0; i < 50; ++i)
      seats.emplace_back([&, i] {
        auto agent = "agent" + std::to_string(100 + i);
        for (int n = 0; n < per_agent; ++n) {
          auto dialed = c.ask<sb::ucid_reply>(
              sb::dial_atom_v,
              sb::ozonetel_dial_request{"+9198450" + std::to_string(10000 + i),
                                        caf::none, agent});
          for (auto action : {"Answered", "Disconnect"}) {
            sb::ozonetel_call_event ev;
            ev.action = action;
            ev.ucid = ev.monitor_ucid = dialed.ucid;
            ev.agent_id = agent;
            c.ask<sb::ucid_reply>(sb::call_event_atom_v, ev);
          }
          // CloudAgent ends the call on its side too (the seat goes to ACW).
          fake.end_call(dialed.ucid);
          sb::ozonetel_dispose_request d;
          d.ucid = dialed.ucid;
          d.disposition = "INFO_PROVIDED";
          d.agent_id = agent;
          c.ask<sb::ucid_reply>(sb::dispose_atom_v, d);
        }
      });
    for (auto& t : seats)
      t.join();
    auto calls = 50 * per_agent;
    c.sink->wait_for(static_cast<size_t>(calls), 30s);
    rates.push_back(calls / sb::bench::seconds_since(t0));
    requests_per_call = static_cast<double>(fake.requests().size()) / calls;
  }
  std::printf("  %-44s %8.0f /s median of 3 (50 agents x %d calls)\n",
              "dispositions end to end", sb::bench::median(rates), per_agent);
  std::printf("  %-44s %8.2f (dial, disposition; token shared)\n",
              "CloudAgent requests per logged call", requests_per_call);
}

void memory_per_ucid() {
  constexpr int n = 100000;
  std::vector<double> samples;
  for (int run = 0; run < 3; ++run) {
    auto before = allocated_bytes();
    {
      sb::ozonetel_call_book book{sb::ozonetel_config{}};
      for (int i = 0; i < n; ++i) {
        sb::ucid_call c;
        c.ucid = "91000000" + std::to_string(10000000 + i);
        c.agent_id = "agent" + std::to_string(100 + i % 50);
        c.external_number = "+9198450" + std::to_string(10000 + i % 90000);
        c.phase = sb::ucid_call_phase::acw;
        c.campaign = "Inbound_Sales";
        book.restore(std::move(c));
      }
      samples.push_back(static_cast<double>(allocated_bytes() - before) / n);
    }
  }
  std::printf("  %-44s %8.0f bytes allocated, median of 3 (%d calls in"
              " acw)\n",
              "memory per tracked UCID", sb::bench::median(samples), n);
}

void restart_to_resumed(int pending) {
  std::vector<double> samples;
  for (int run = 0; run < 3; ++run) {
    sb::test::ozonetel_server fake;
    sb::test::scratch_dir dir{"sb-bench-restart"};
    auto url = "sqlite:" + (dir.path() / "crm.db").string();
    auto cfg = sb::test::config_for(fake);
    {
      auto db = sb::store::database::open(url);
      std::vector<sb::store::ucid_state_row> rows;
      auto now = sb::now_micros();
      for (int i = 0; i < pending; ++i) {
        sb::ucid_call c;
        c.ucid = "92000000" + std::to_string(10000000 + i);
        c.agent_id = cfg.agent_id;
        c.direction = sb::call_direction::outbound;
        c.phase = sb::ucid_call_phase::acw;
        c.answered = true;
        c.created_at = now - 600'000'000;
        c.ended_at = c.acw_started_at = now - 300'000'000;
        rows.push_back(sb::store::ucid_row(c));
      }
      (void) (*db)->save_ucid_states(rows, {});
    }
    auto t0 = clock_type::now();
    centre_env c{cfg, url};
    fake.wait_for("/ca_apis/DispositionAPIV2", static_cast<size_t>(pending),
                  60s);
    samples.push_back(sb::bench::seconds_since(t0) * 1e3);
  }
  std::printf("  %-44s %8.0f ms median of 3 (%d pending, ACW ran out)\n",
              "restart to every disposition sent", sb::bench::median(samples),
              pending);
}

/// A restart after a kill -9 with `stored` finished calls whose entries
/// were handed out but not confirmed, half of them committed: the time
/// until the other half is sent again (the comms log checked per call).
void restart_to_resent(int stored) {
  std::vector<double> samples;
  for (int run = 0; run < 3; ++run) {
    sb::test::ozonetel_server fake;
    sb::test::scratch_dir dir{"sb-bench-resend"};
    auto url = "sqlite:" + (dir.path() / "crm.db").string();
    auto cfg = sb::test::config_for(fake);
    {
      auto db = sb::store::database::open(url);
      std::vector<sb::store::ucid_state_row> rows;
      std::vector<sb::matched_call> committed;
      auto now = sb::now_micros();
      for (int i = 0; i < stored; ++i) {
        sb::ucid_call c;
        c.ucid = "93000000" + std::to_string(10000000 + i);
        c.agent_id = cfg.agent_id;
        c.direction = sb::call_direction::outbound;
        c.phase = sb::ucid_call_phase::disposed;
        c.progress = sb::disposition_progress::done;
        c.answered = true;
        c.created_at = now - 600'000'000;
        c.answered_at = now - 590'000'000;
        c.ended_at = c.finished_at = now - 300'000'000;
        c.emitted = 1;
        rows.push_back(sb::store::ucid_row(c));
        if (i % 2 == 0)
          committed.push_back({sb::to_completed(c, cfg.account), {}, {}});
      }
      (void) (*db)->save_ucid_states(rows, {});
      (void) (*db)->write_calls(committed);
    }
    auto t0 = clock_type::now();
    centre_env c{cfg, url};
    c.sink->wait_for(static_cast<size_t>(stored / 2), 60s);
    samples.push_back(sb::bench::seconds_since(t0) * 1e3);
  }
  std::printf("  %-44s %8.0f ms median of 3 (%d stored, half committed)\n",
              "restart to every lost entry sent again",
              sb::bench::median(samples), stored);
}

} // namespace

SB_BENCH("ozonetel agents") {
  sb::log::set_level(sb::log::level::error);
  dispositions_per_second(10);
  memory_per_ucid();
  restart_to_resumed(1000);
  restart_to_resent(1000);
}
