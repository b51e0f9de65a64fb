// Webhook delivery against a local receiver that checks every signature:
// each selected event exactly once and in order, retries of 5xx, 429 and
// timeouts, 4xx and exhausted attempts dead-lettered and skipped, the retry
// schedule kept across a restart of the sender, and two senders on one
// PostgreSQL (two instances) delivering each event once. SQLite and
// PostgreSQL both, where the backend matters.

#include <algorithm>
#include <chrono>
#include <memory>

#include "adapters/json/row_json.hpp"
#include "adapters/metrics/registry.hpp"
#include "adapters/webhook/sender.hpp"
#include "adapters/webhook/signature.hpp"
#include "tests/fixtures/store_support.hpp"
#include "tests/fixtures/webhook_receiver.hpp"

using namespace sb;
using namespace sb::test;
using namespace std::chrono_literals;

namespace {

const std::string secret = "whsec-test-0123456789";

webhook_config endpoint(const webhook_receiver& receiver,
                        const std::string& name = "crm") {
  webhook_config w;
  w.name = name;
  w.url = receiver.url();
  w.secret = secret;
  w.timeout_seconds = 2;
  w.max_attempts = 5;
  w.retry_initial_seconds = 0.02;
  w.retry_max_seconds = 0.1;
  return w;
}

/// Appends `n` events of `type` (through a session of its own, as the
/// event log does) and rings `signal`; returns their ids.
std::vector<int64_t> append(store::database& db, const shared_event_signal& signal,
                            const std::string& type, int n) {
  std::vector<int64_t> ids;
  for (int i = 0; i < n; ++i) {
    stored_event e;
    e.type = type;
    e.at = json::iso8601_millis(now_micros());
    e.origin = "pbx1";
    e.call_id = "call-" + std::to_string(i);
    e.payload_json = R"({"call_id":"call-)" + std::to_string(i) + R"("})";
    auto id = db.append_events({e});
    REQUIRE(id);
    ids.push_back(*id);
  }
  signal->ring();
  return ids;
}

bool accepted_all(const webhook_receiver& r, const std::vector<int64_t>& ids) {
  auto got = r.accepted();
  return std::all_of(ids.begin(), ids.end(),
                     [&](int64_t id) { return got.count(id) > 0; });
}

int64_t stored_last(store::database& db, const std::string& name) {
  auto p = db.webhook_progress_of(name);
  REQUIRE(p);
  return p->last_event_id;
}

double counter(const std::string& series) {
  auto text = metrics::global().render();
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos)
    return 0;
  return std::stod(text.substr(at + series.size() + 2));
}

} // namespace

TEST_CASE("the signature is HMAC-SHA256 of timestamp.body, in hex") {
  // RFC 4231 test case 2.
  CHECK(webhook::hmac_sha256_hex("Jefe", "what do ya want for nothing?")
        == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(webhook::signature("Jefe", "what do ya want", " for nothing?")
        == "sha256=" + webhook::hmac_sha256_hex("Jefe", "what do ya want. for "
                                                        "nothing?"));
  CHECK(webhook::judge(200) == webhook::verdict::delivered);
  CHECK(webhook::judge(204) == webhook::verdict::delivered);
  CHECK(webhook::judge(500) == webhook::verdict::retry);
  CHECK(webhook::judge(408) == webhook::verdict::retry);
  CHECK(webhook::judge(429) == webhook::verdict::retry);
  CHECK(webhook::judge(404) == webhook::verdict::refused);
  CHECK(webhook::judge(302) == webhook::verdict::refused);
  auto t = webhook::split_url("https://crm.example.com:8443/in/hook?k=1");
  CHECK(t.scheme_host_port == "https://crm.example.com:8443");
  CHECK(t.path == "/in/hook?k=1");
  CHECK(webhook::split_url("http://h").path == "/");
}

TEST_CASE("every selected event reaches the endpoint exactly once, in order, "
          "signed; other types are skipped and the progress is stored") {
  for_each_backend("webhook order", [](const backend_case& b) {
    webhook_receiver receiver{secret};
    auto db = open_or_fail(b.url);
    // History from before the endpoint existed is not replayed at it.
    auto signal = std::make_shared<event_signal>();
    auto before = append(*db, signal, "call.ended", 3);
    auto cfg = endpoint(receiver);
    cfg.events = {"call.ringing", "call.logged"};
    auto s = std::make_unique<webhook::sender>(b.url, cfg, signal, 200ms);
    REQUIRE(wait_until(
        [&] { return stored_last(*db, "crm") == before.back(); }, 10s));
    std::vector<int64_t> wanted;
    for (int round = 0; round < 5; ++round) {
      for (auto id : append(*db, signal, "call.ringing", 4))
        wanted.push_back(id);
      append(*db, signal, "call.answered", 3);
      for (auto id : append(*db, signal, "call.logged", 2))
        wanted.push_back(id);
    }
    auto tail = append(*db, signal, "call.answered", 5);
    REQUIRE(wait_until([&] { return accepted_all(receiver, wanted); }, 20s));
    REQUIRE(wait_until(
        [&] { return stored_last(*db, "crm") == tail.back(); }, 10s));
    CHECK(receiver.accepted_order() == wanted);
    CHECK(receiver.unverified() == 0);
    for (const auto& r : receiver.requests())
      CHECK((r.type == "call.ringing" || r.type == "call.logged"));
    auto status = s->status();
    CHECK(status.delivered == static_cast<int64_t>(wanted.size()));
    CHECK(status.attempts == 0);
    // A new sender (a restart) resends nothing.
    s.reset();
    auto more = append(*db, signal, "call.logged", 1);
    s = std::make_unique<webhook::sender>(b.url, cfg, signal, 200ms);
    REQUIRE(wait_until([&] { return accepted_all(receiver, more); }, 10s));
    wanted.push_back(more.back());
    CHECK(receiver.accepted_order() == wanted);
  });
}

TEST_CASE("5xx, 429 and a stalled receiver are retried with backoff until "
          "delivered; the order holds meanwhile") {
  for_each_backend("webhook retries", [](const backend_case& b) {
    webhook_receiver receiver{secret};
    auto db = open_or_fail(b.url);
    auto signal = std::make_shared<event_signal>();
    auto cfg = endpoint(receiver);
    cfg.timeout_seconds = 0.3;
    webhook::sender s{b.url, cfg, signal, 200ms};
    // Created by the sender too; whoever comes first, it starts here.
  REQUIRE(db->ensure_webhook("crm"));
    // The events after the sender created its row: ids are known up front
    // only once appended, so the rules go on the next ids.
    auto last = db->last_event_id();
    REQUIRE(last);
    REQUIRE(wait_until([&] { return stored_last(*db, "crm") == *last; }, 5s));
    receiver.fail(*last + 1, 500, 2);
    receiver.fail(*last + 2, 429, 1);
    receiver.stall(*last + 3, 3s, 1);
    auto ids = append(*db, signal, "call.ringing", 4);
    REQUIRE(ids.front() == *last + 1);
    REQUIRE(wait_until([&] { return accepted_all(receiver, ids); }, 20s));
    CHECK(receiver.accepted_order() == ids);
    std::map<int64_t, int> tries;
    for (const auto& r : receiver.requests())
      ++tries[r.event_id];
    CHECK(tries[ids[0]] == 3);
    CHECK(tries[ids[1]] == 2);
    CHECK(tries[ids[2]] >= 2);
    CHECK(tries[ids[3]] == 1);
    REQUIRE(wait_until([&] { return stored_last(*db, "crm") == ids.back(); },
                       5s));
    auto p = db->webhook_progress_of("crm");
    REQUIRE(p);
    CHECK(p->attempts == 0);
    CHECK(p->next_attempt_at.empty());
    auto dead = db->webhook_dead_letters("crm", 10);
    REQUIRE(dead);
    CHECK(dead->empty());
    CHECK(counter("switchboard_webhook_deliveries_total{endpoint=\"crm\","
                  "outcome=\"failed\"}")
          >= 4);
  });
}

TEST_CASE("a 4xx answer is dead-lettered and skipped at once; after "
          "max_attempts a failing event is dead-lettered too") {
  for_each_backend("webhook dead letters", [](const backend_case& b) {
    webhook_receiver receiver{secret};
    auto db = open_or_fail(b.url);
    auto signal = std::make_shared<event_signal>();
    auto cfg = endpoint(receiver);
    cfg.max_attempts = 3;
    webhook::sender s{b.url, cfg, signal, 200ms};
    // Created by the sender too; whoever comes first, it starts here.
  REQUIRE(db->ensure_webhook("crm"));
    auto last = db->last_event_id();
    REQUIRE(last);
    REQUIRE(wait_until([&] { return stored_last(*db, "crm") == *last; }, 5s));
    receiver.fail(*last + 2, 422, 1);
    receiver.fail(*last + 3, 503, 10);
    auto ids = append(*db, signal, "call.logged", 4);
    REQUIRE(wait_until([&] { return stored_last(*db, "crm") == ids.back(); },
                       20s));
    CHECK(receiver.accepted_order()
          == std::vector<int64_t>{ids[0], ids[3]});
    auto dead = db->webhook_dead_letters("crm", 10);
    REQUIRE(dead);
    REQUIRE(dead->size() == 2);
    CHECK((*dead)[0].event_id == ids[1]);
    CHECK((*dead)[0].status == 422);
    CHECK((*dead)[0].event_type == "call.logged");
    CHECK((*dead)[0].error.find("HTTP 422") != std::string::npos);
    CHECK((*dead)[1].event_id == ids[2]);
    CHECK((*dead)[1].status == 503);
    std::map<int64_t, int> tries;
    for (const auto& r : receiver.requests())
      ++tries[r.event_id];
    CHECK(tries[ids[1]] == 1);
    CHECK(tries[ids[2]] == 3);
    CHECK(s.status().dead_letters == 2);
  });
}

TEST_CASE("the retry schedule is stored: a restarted sender waits for the "
          "stored next attempt, then delivers") {
  scratch_dir dir;
  auto url = "sqlite:" + dir.file("hooks.db");
  webhook_receiver receiver{secret};
  auto db = open_or_fail(url);
  auto signal = std::make_shared<event_signal>();
  auto cfg = endpoint(receiver);
  cfg.retry_initial_seconds = 1;
  cfg.retry_max_seconds = 1;
  auto s = std::make_unique<webhook::sender>(url, cfg, signal, 200ms);
  // Created by the sender too; whoever comes first, it starts here.
  REQUIRE(db->ensure_webhook("crm"));
  auto last = db->last_event_id();
  REQUIRE(last);
  receiver.fail(*last + 1, 500, 1);
  auto ids = append(*db, signal, "call.ringing", 1);
  REQUIRE(wait_until(
      [&] {
        auto p = db->webhook_progress_of("crm");
        return p && p->attempts == 1;
      },
      10s));
  s.reset();
  auto p = db->webhook_progress_of("crm");
  REQUIRE(p);
  CHECK(p->last_event_id == *last);
  CHECK(p->last_error.find("HTTP 500") != std::string::npos);
  auto next = parse_iso8601(p->next_attempt_at);
  REQUIRE(next);
  s = std::make_unique<webhook::sender>(url, cfg, signal, 200ms);
  REQUIRE(wait_until([&] { return accepted_all(receiver, ids); }, 10s));
  // The second attempt came no earlier than the stored schedule said.
  CHECK(now_micros() >= *next);
  CHECK(receiver.requests().size() == 2);
}

TEST_CASE("two senders on one PostgreSQL (two instances) deliver each event "
          "once, in order") {
  if (!pg_available()) {
    warn_pg_skipped("webhook two instances");
    return;
  }
  pg_database pg;
  webhook_receiver receiver{secret};
  auto db = open_or_fail(pg.url());
  auto signal = std::make_shared<event_signal>();
  auto cfg = endpoint(receiver);
  webhook::sender one{pg.url(), cfg, signal, 50ms};
  webhook::sender two{pg.url(), cfg, signal, 50ms};
  // Created by the sender too; whoever comes first, it starts here.
  REQUIRE(db->ensure_webhook("crm"));
  std::vector<int64_t> ids;
  for (int round = 0; round < 10; ++round)
    for (auto id : append(*db, signal, "call.ringing", 20))
      ids.push_back(id);
  REQUIRE(wait_until([&] { return accepted_all(receiver, ids); }, 30s));
  CHECK(receiver.accepted_order() == ids);
  CHECK(receiver.accepted_total() == ids.size());
  auto a = one.status().delivered;
  auto c = two.status().delivered;
  CHECK(a + c == static_cast<int64_t>(ids.size()));
  INFO("delivered by the first: " << a << ", by the second: " << c);
  CHECK(receiver.unverified() == 0);
}
