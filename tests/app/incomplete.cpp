// End to end: a call whose end happens while the AMI connection is down (the
// test server drops it mid-call and, like a real Asterisk, never sends what
// happened meanwhile; its CoreShowChannels answer shows the call gone) is
// finalized incomplete and stored flagged, with its PBX, and a body that
// says its duration is not known exactly. SQLite and PostgreSQL.

#include "tests/fixtures/e2e_support.hpp"

namespace {

using namespace sb;
using namespace sb::e2e;

const char* answered_call = "dev-01-inbound-answered-caller-hangup";

void cut_call_is_stored_incomplete(const backend& b) {
  INFO("backend " << b.label);
  auto reader = open_db(b.url);
  ami::replay_options options;
  options.capture_path = test::ami_capture(answered_call);
  // After both BridgeEnter events (the call is answered and up), before any
  // hang-up; everything after that happens while nobody is connected.
  options.close_after_events = 75;
  options.max_drops = 1;
  options.lost_on_drop = 1000;
  auto incomplete_before = tracker_calls("incomplete");
  auto pbx_server = test::start_replay(options);
  auto pbx_name = fresh_pbx_name();
  test::pipeline p{b.url, b.dir_file("spool"), *pbx_server, pbx_name};
  bool settled = test::wait_until(
      [&] {
        return count_rows(*reader) == 1 && p.live_calls() == 0
               && p.writer_pending() == 0;
      },
      std::chrono::seconds{20}, std::chrono::milliseconds{10});
  auto connections = pbx_server->connections();
  p.stop();
  REQUIRE(settled);
  CHECK(connections >= 2);
  CHECK(tracker_calls("incomplete") - incomplete_before == 1);
  auto row = reader->find_comms("ami", "1795298998.0");
  REQUIRE(row);
  REQUIRE(*row);
  const auto& e = **row;
  CHECK(e.incomplete);
  CHECK(e.origin == pbx_name);
  CHECK(e.direction == "inbound");
  CHECK(e.extension == "1001");
  INFO("body: " << e.body);
  CHECK(e.body.rfind("Call duration: ", 0) == 0);
  CHECK(e.body.find("(the call was not seen from start to end)")
        != std::string::npos);
  CHECK(e.body.find("Call duration: 0s") == std::string::npos);
  // Listed the same way.
  auto listed = reader->query_comms(comms_query{});
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().incomplete);
}

} // namespace

TEST_CASE("e2e sqlite: a call that ends while the connection is down is "
          "stored incomplete",
          "[e2e][sqlite][incomplete]") {
  quiet_logs();
  cut_call_is_stored_incomplete(sqlite_backend());
}

TEST_CASE("e2e postgresql: a call that ends while the connection is down is "
          "stored incomplete",
          "[e2e][postgresql][incomplete]") {
  quiet_logs();
  if (!postgres_available_or_warn("a cut call is stored incomplete"))
    return;
  cut_call_is_stored_incomplete(postgres_backend());
}
