// The real switchboard binary against a local replay of a recorded PBX
// (dev-11: 50 overlapping calls): its /metrics move while the calls flow, and
// once they are committed the counters equal what the comms log holds. The
// page after that traffic passes `promtool check metrics`.

#include <catch2/catch.hpp>

#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <rapidjson/document.h>

#include "tests/fixtures/ami_server.hpp"
#include "tests/fixtures/capture.hpp"
#include "tests/fixtures/prometheus_scrape_support.hpp"
#include "tests/fixtures/webhook_receiver.hpp"

using namespace sb::scrape_test;

namespace {

const char* promtool = "/usr/bin/promtool";
const char* scenario = "dev-11-burst-50";
const char* api_token = "flow-token";

/// The AMI comms-log entries as the HTTP API lists them.
struct comms_rows {
  int status = -1;
  size_t count = 0;
  bool last_page = false;
  std::set<std::string> ext_message_ids;
  /// (direction, disposition) -> rows
  std::map<std::pair<std::string, std::string>, size_t> by_outcome;
};

comms_rows ami_comms_rows(uint16_t port) {
  comms_rows rows;
  auto reply
      = http_get(port, "/api/crm/comms", {{"source", "ami"}, {"limit", "500"}},
                 {{"Authorization", std::string{"Bearer "} + api_token}});
  rows.status = reply.status;
  if (reply.status != 200)
    return rows;
  rapidjson::Document doc;
  doc.Parse(reply.body.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("entries"))
    return rows;
  rows.last_page = doc.HasMember("next_cursor") && doc["next_cursor"].IsNull();
  for (auto& e : doc["entries"].GetArray()) {
    ++rows.count;
    rows.ext_message_ids.insert(e["ext_message_id"].GetString());
    ++rows.by_outcome[{e["direction"].GetString(),
                       e["disposition"].GetString()}];
  }
  return rows;
}

std::vector<sample> scrape(uint16_t port) {
  auto reply = http_get(port, "/metrics");
  if (reply.status != 200)
    return {};
  return parse_samples(reply.body);
}

double actor_messages(const std::vector<sample>& page,
                      const std::string& actor) {
  return sum_of(page, "switchboard_actor_messages_total", {{"actor", actor}});
}

} // namespace

TEST_CASE("metrics move as replayed calls flow and equal the comms log; the "
          "page passes promtool",
          "[metrics][flow][process]") {
  const auto expected_calls = sb::test::load_expected(scenario).calls.size();
  REQUIRE(expected_calls == 50);

  // About four seconds of events: long enough to look at the counters while
  // the calls are still coming.
  sb::ami::replay_options replay;
  replay.capture_path = sb::test::ami_capture(scenario);
  replay.username = "flow";
  replay.secret = "flow-secret";
  replay.events_per_second = 1000;
  std::unique_ptr<sb::ami::replay_server> pbx;

  scratch_dir dir{"sb-flow"};
  // Each logged call also goes to a webhook, so its series are on the page
  // promtool reads.
  sb::test::webhook_receiver crm{"flow-hook-secret"};
  auto started = start_switchboard(
      dir.path(),
      clean_environment({"SWITCHBOARD_PBX_REPLAY_SECRET=flow-secret",
                         std::string{"SWITCHBOARD_HTTP_TOKEN="} + api_token,
                         "SWITCHBOARD_WEBHOOK_CRM_URL=" + crm.url(),
                         "SWITCHBOARD_WEBHOOK_CRM_SECRET=flow-hook-secret",
                         "SWITCHBOARD_WEBHOOK_CRM_EVENTS=call.logged"}),
      [&](uint16_t) {
        // A failed start may have taken events already: a fresh replay each
        // time.
        pbx.reset();
        pbx = sb::test::start_replay(replay);
        return std::vector<std::string>{
            "--db.url=sqlite:" + (dir.path() / "flow.db").string(),
            "--pbx.replay.host=127.0.0.1",
            "--pbx.replay.port=" + std::to_string(pbx->port()),
            "--pbx.replay.username=flow"};
      });
  auto& server = *started.process;
  auto port = started.port;

  const std::map<std::string, std::string> this_pbx{{"pbx", "replay"}};

  // First look: as soon as the parser has counted an event.
  std::vector<sample> early;
  bool events_seen = wait_until(milliseconds{15000}, milliseconds{20}, [&] {
    early = scrape(port);
    return sum_of(early, "switchboard_ami_events_total", this_pbx) > 0;
  });
  if (!events_seen)
    FAIL("no AMI event counted:\n" << log_tail(server.log()));
  const auto early_events
      = sum_of(early, "switchboard_ami_events_total", this_pbx);
  // The replay was still going: what follows is growth, not a settled value.
  CHECK(early_events < static_cast<double>(pbx->capture_events()));

  // Every call committed: the comms log as the API lists it.
  comms_rows rows;
  bool committed = wait_until(milliseconds{30000}, milliseconds{100}, [&] {
    rows = ami_comms_rows(port);
    return rows.count >= expected_calls;
  });
  if (!committed)
    FAIL("comms log holds " << rows.count << " of " << expected_calls
                            << " calls (HTTP " << rows.status << "):\n"
                            << log_tail(server.log()));

  // Then the counters have settled: every event delivered and counted, every
  // committed row counted.
  std::vector<sample> late;
  bool settled = wait_until(milliseconds{10000}, milliseconds{50}, [&] {
    late = scrape(port);
    return pbx->events_sent() == pbx->capture_events()
           && sum_of(late, "switchboard_ami_events_total", this_pbx)
                  >= static_cast<double>(pbx->capture_events())
           && sum_of(late, "switchboard_calls_logged_total",
                     {{"source", "ami"}})
                  >= static_cast<double>(rows.count);
  });
  rows = ami_comms_rows(port);
  INFO("switchboard log:\n" << log_tail(server.log()));
  CHECK(settled);

  // Counts equal the calls logged.
  CHECK(rows.count == expected_calls);
  CHECK(rows.last_page);
  CHECK(rows.ext_message_ids.size() == rows.count);
  CHECK(sum_of(late, "switchboard_calls_logged_total", {{"source", "ami"}})
        == static_cast<double>(rows.count));
  for (auto& [outcome, n] : rows.by_outcome) {
    INFO("direction=" << outcome.first << " disposition=" << outcome.second);
    CHECK(sum_of(late, "switchboard_calls_logged_total",
                 {{"source", "ami"},
                  {"direction", outcome.first},
                  {"disposition", outcome.second}})
          == static_cast<double>(n));
  }
  // No label set counts calls the log does not hold.
  CHECK(count_of(late, "switchboard_calls_logged_total", {{"source", "ami"}})
        == rows.by_outcome.size());
  CHECK(
      sum_of(late, "switchboard_tracker_calls_total", {{"result", "complete"}})
      == static_cast<double>(expected_calls));
  CHECK(sum_of(late, "switchboard_db_batch_size_sum")
        == static_cast<double>(rows.count));
  CHECK(sum_of(late, "switchboard_db_write_seconds_count") > 0);

  // Events: every frame the PBX sent, counted once (the capture plus the
  // CoreShowChannels answer to each login's re-sync).
  CHECK(sum_of(late, "switchboard_ami_events_total", this_pbx)
        == static_cast<double>(pbx->capture_events() + pbx->answer_events()));
  CHECK(sum_of(late, "switchboard_ami_events_total", this_pbx) > early_events);
  CHECK(sum_of(late, "switchboard_ami_connection_state",
               {{"pbx", "replay"}, {"state", "logged_in"}})
        == 1);

  // Every pipeline actor counted its messages; those the calls pass through
  // grew while they flowed.
  for (auto& actor : pipeline_actors()) {
    INFO("actor " << actor);
    CHECK(actor_messages(late, actor) > 0);
    CHECK(count_of(late, "switchboard_actor_message_seconds_bucket",
                   {{"actor", actor}, {"le", "+Inf"}})
          == 1);
    CHECK(count_of(late, "switchboard_actor_mailbox_depth", {{"actor", actor}})
          == 1);
  }
  for (const char* actor :
       {"ami_parser", "call_tracker", "customer_matcher", "comms_log_writer"}) {
    INFO("actor " << actor);
    CHECK(actor_messages(late, actor) > actor_messages(early, actor));
    CHECK(sum_of(late, "switchboard_actor_message_seconds_count",
                 {{"actor", actor}})
          > sum_of(early, "switchboard_actor_message_seconds_count",
                   {{"actor", actor}}));
  }

  // Every logged call reached the webhook once, and the metrics say so.
  const std::map<std::string, std::string> delivered{{"endpoint", "crm"},
                                                     {"outcome", "delivered"}};
  CHECK(wait_until(milliseconds{15000}, milliseconds{50}, [&] {
    late = scrape(port);
    return sum_of(late, "switchboard_webhook_deliveries_total", delivered)
           >= static_cast<double>(expected_calls);
  }));
  CHECK(crm.accepted_total() >= expected_calls);
  CHECK(crm.accepted().size() == crm.accepted_total());
  CHECK(crm.unverified() == 0);
  CHECK(sum_of(late, "switchboard_webhook_deliveries_total", delivered)
        == static_cast<double>(crm.accepted_total()));
  CHECK(sum_of(late, "switchboard_webhook_dead_letters_total",
               {{"endpoint", "crm"}})
        == 0);
  CHECK(count_of(late, "switchboard_webhook_lag_seconds", {{"endpoint", "crm"}})
        == 1);

  // The page after this traffic, piped into promtool.
  if (::access(promtool, X_OK) != 0) {
    WARN("SKIPPED promtool check: " << promtool
                                    << " missing (apt-get install prometheus)");
  } else {
    auto page = http_get(port, "/metrics");
    REQUIRE(page.status == 200);
    auto verdict = dir.path() / "promtool.out";
    auto command = std::string{promtool} + " check metrics > "
                   + verdict.string() + " 2>&1";
    FILE* pipe = ::popen(command.c_str(), "w");
    REQUIRE(pipe != nullptr);
    auto written = std::fwrite(page.body.data(), 1, page.body.size(), pipe);
    auto status = ::pclose(pipe);
    CHECK(written == page.body.size());
    INFO("promtool said:\n" << read_text(verdict));
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(read_text(verdict).empty());
  }

  auto ended = server.stop(milliseconds{15000});
  CHECK(ended.exited);
  CHECK(ended.code == 0);
  CHECK_FALSE(ended.killed);
}
