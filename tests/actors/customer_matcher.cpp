#include "tests/fixtures/store_support.hpp"

#include <map>

#include "actors/comms_log_writer.hpp"
#include "actors/customer_matcher.hpp"
#include "adapters/metrics/registry.hpp"
#include "adapters/phone/normalizer.hpp"

using namespace sb;
using namespace sb::test;
using namespace std::chrono_literals;

namespace {

/// Stands in for the comms-log writer: hands every matched batch to the
/// test's scoped actor.
comms_log_writer_actor::behavior_type
relay_writer(comms_log_writer_actor::pointer self, caf::actor sink) {
  return {
      [self, sink](std::vector<matched_call>& calls) {
        caf::anon_send(sink, std::move(calls));
      },
      [](write_atom, comms_entry&, std::string&) -> caf::result<comms_entry> {
        return caf::make_error(caf::sec::unexpected_message);
      },
      [](customer_atom, customer&) -> caf::result<customer> {
        return caf::make_error(caf::sec::unexpected_message);
      },
      [](customer_atom, customer&,
         std::string&) -> caf::result<customer_change> {
        return caf::make_error(caf::sec::unexpected_message);
      },
      [](customer_atom, customer_patch&) -> caf::result<customer_change> {
        return caf::make_error(caf::sec::unexpected_message);
      },
      [](delete_atom, int64_t) -> caf::result<customer_change> {
        return caf::make_error(caf::sec::unexpected_message);
      },
      [](retry_atom) {},
      [](status_atom) -> int64_t { return 0; },
      [](flush_atom, int64_t) { return drain_report{}; },
      [](events_atom, caf::actor&) {},
  };
}

completed_call outside_call(const std::string& id, const std::string& number,
                            call_direction dir = call_direction::inbound) {
  completed_call c;
  c.source = "ami";
  c.ext_message_id = id;
  c.direction = dir;
  c.external_number = number;
  c.extension = "1001";
  c.disposition = call_disposition::answered;
  c.started_at = 1795299069LL * 1000000;
  c.duration_seconds = 10;
  return c;
}

std::vector<matched_call> next_matched(caf::scoped_actor& self) {
  std::vector<matched_call> out;
  self->receive(
      [&](std::vector<matched_call>& calls) { out = std::move(calls); },
      caf::after(10s) >> [] { FAIL("the matcher forwarded nothing"); });
  return out;
}

customer seed(store::database& db, const std::string& name,
              const std::string& phone) {
  phone::normalizer gb{"GB"};
  auto c = db.add_customer({0, name, phone, gb.to_e164(phone), ""});
  REQUIRE(c);
  return *c;
}

double counter(const char* name) {
  return metrics::global().get_counter(name, "").value();
}

struct matcher_env {
  scratch_dir dir;
  std::string url = "sqlite:" + dir.file("crm.db");
  actor_env env;
  comms_log_writer_actor relay
      = env.sys.spawn(relay_writer, caf::actor_cast<caf::actor>(env.self));

  customer_matcher_actor spawn() {
    phone_config phone;
    phone.default_region = "GB";
    return env.own(env.sys.spawn(customer_matcher, phone, url, relay));
  }
};

} // namespace

TEST_CASE("the matcher finds customers by any spelling of their number") {
  matcher_env m;
  auto db = open_or_fail(m.url);
  auto alice = seed(*db, "Alice", "+44 20 7946 0123");
  auto alice_again = seed(*db, "Alice (duplicate record)", "020 7946 0123");
  auto bob = seed(*db, "Bob", "07700 900123");
  auto carol = seed(*db, "Carol", "+1 (555) 010-0199");
  auto ext = seed(*db, "Reception", "1001"); // not an outside number
  REQUIRE(alice_again.id > alice.id);
  CHECK(ext.phone_e164.empty());
  auto matcher = m.spawn();

  auto unmatched_before = counter("switchboard_calls_unmatched_total");
  auto matched_before = counter("switchboard_calls_matched_total");
  m.env.self->send(
      matcher,
      std::vector<completed_call>{
          outside_call("a1", "+442079460123"),
          outside_call("a2", "00442079460123"),
          outside_call("a3", "02079460123"),
          outside_call("a4", "2079460123"),
          outside_call("a5", "+44 (0)20 7946 0123"),
          outside_call("b1", "07700900123"),
          outside_call("b2", "447700900123"),
          outside_call("c1", "+1-555-010-0199"),
          outside_call("c2", "0015550100199", call_direction::outbound),
          outside_call("n1", "anonymous"),
          outside_call("n2", "<unknown>"),
          outside_call("n3", ""),
          outside_call("n4", "1001"),
          outside_call("n5", "+442079460999"), // a number, but nobody's
          outside_call("i1", "1002", call_direction::internal),
      });
  auto out = next_matched(m.env.self);
  REQUIRE(out.size() == 15);
  std::map<std::string, matched_call> by_id;
  for (auto& mc : out)
    by_id[mc.call.ext_message_id] = mc;
  for (auto id : {"a1", "a2", "a3", "a4", "a5"}) {
    INFO(id);
    // Two customers share the number: the lowest id, every time.
    CHECK(by_id[id].customer_id == alice.id);
    CHECK(by_id[id].external_e164 == "+442079460123");
  }
  CHECK(by_id["b1"].customer_id == bob.id);
  CHECK(by_id["b2"].customer_id == bob.id);
  CHECK(by_id["c1"].customer_id == carol.id);
  CHECK(by_id["c2"].customer_id == carol.id);
  for (auto id : {"n1", "n2", "n3", "n4", "i1"}) {
    INFO(id);
    CHECK_FALSE(by_id[id].customer_id);
    CHECK(by_id[id].external_e164.empty());
  }
  CHECK_FALSE(by_id["n5"].customer_id);
  CHECK(by_id["n5"].external_e164 == "+442079460999");
  // The call itself passes through untouched.
  CHECK(by_id["c2"].call.direction == call_direction::outbound);
  CHECK(by_id["c2"].call.external_number == "0015550100199");
  // Outside calls without a customer are counted; internal calls are not.
  CHECK(counter("switchboard_calls_unmatched_total") - unmatched_before
        == Approx(5));
  CHECK(counter("switchboard_calls_matched_total") - matched_before
        == Approx(9));
}

TEST_CASE("customers added or changed later are matched at once") {
  matcher_env m;
  auto db = open_or_fail(m.url);
  auto bob = seed(*db, "Bob", "07700 900123");
  auto matcher = m.spawn();

  m.env.self->send(
      matcher, std::vector<completed_call>{outside_call("x1", "07700 900999")});
  CHECK_FALSE(next_matched(m.env.self).at(0).customer_id);

  // As HTTP does after the writer stored the customer.
  auto dave = seed(*db, "Dave", "+44 7700 900999");
  m.env.self->send(matcher, customer_atom_v, dave);
  m.env.self->send(
      matcher, std::vector<completed_call>{outside_call("x2", "07700 900999")});
  CHECK(next_matched(m.env.self).at(0).customer_id == dave.id);

  // Bob changes his number: the old one no longer finds him.
  auto moved = bob;
  moved.phone = "020 7946 0555";
  moved.phone_e164.clear(); // the matcher normalizes it itself
  m.env.self->send(matcher, customer_atom_v, moved);
  m.env.self->send(
      matcher, std::vector<completed_call>{outside_call("x3", "07700900123"),
                                           outside_call("x4", "02079460555")});
  auto out = next_matched(m.env.self);
  REQUIRE(out.size() == 2);
  CHECK_FALSE(out[0].customer_id);
  CHECK(out[1].customer_id == bob.id);

  // Customers imported behind its back are seen after reload_atom.
  auto erin = seed(*db, "Erin", "01184960630");
  m.env.self->send(matcher, reload_atom_v);
  m.env.self->send(matcher, std::vector<completed_call>{
                                outside_call("x5", "+441184960630")});
  CHECK(next_matched(m.env.self).at(0).customer_id == erin.id);
}

TEST_CASE("calls wait for the customer index when the database is not "
          "there yet") {
  matcher_env m;
  m.url = "sqlite:" + m.dir.file("later/crm.db");
  auto matcher = m.spawn();
  m.env.self->send(matcher, std::vector<completed_call>{
                                outside_call("h1", "+442079460123")});
  // Held, not written without its customer.
  bool forwarded = false;
  m.env.self->receive([&](std::vector<matched_call>&) { forwarded = true; },
                      caf::after(300ms) >> [] {});
  CHECK_FALSE(forwarded);

  fs::create_directory(m.dir.path() / "later");
  auto db = open_or_fail(m.url);
  auto alice = seed(*db, "Alice", "+44 20 7946 0123");
  m.env.self->send(matcher, reload_atom_v);
  auto out = next_matched(m.env.self);
  REQUIRE(out.size() == 1);
  CHECK(out[0].customer_id == alice.id);
}

TEST_CASE("matcher and writer together store each call under its "
          "customer") {
  scratch_dir dir;
  auto url = "sqlite:" + dir.file("crm.db");
  auto db = open_or_fail(url);
  auto alice = seed(*db, "Alice", "+44 20 7946 0123");
  actor_env env;
  db_config cfg;
  cfg.url = url;
  cfg.spool_path = dir.file("spool");
  auto writer = env.sys.spawn<caf::detached>(comms_log_writer, cfg);
  phone_config phone;
  auto matcher = env.own(env.sys.spawn(customer_matcher, phone, url, writer));

  // A customer added through the writer, announced as HTTP does.
  customer bob;
  env.self
      ->request(writer, 10s, customer_atom_v,
                customer{0, "Bob", "07700 900123", "+447700900123", ""})
      .receive([&](customer& c) { bob = c; },
               [&](caf::error& err) { FAIL(caf::to_string(err)); });
  env.self->send(matcher, customer_atom_v, bob);
  env.self->send(
      matcher, std::vector<completed_call>{outside_call("e1", "020 7946 0123"),
                                           outside_call("e2", "07700900123"),
                                           outside_call("e3", "anonymous")});
  REQUIRE(eventually([&] {
    auto n = db->count_comms();
    return n && *n == 3;
  }));
  auto e1 = db->find_comms("ami", "e1");
  auto e2 = db->find_comms("ami", "e2");
  auto e3 = db->find_comms("ami", "e3");
  REQUIRE((e1 && *e1 && e2 && *e2 && e3 && *e3));
  CHECK((*e1)->customer_id == alice.id);
  CHECK((*e2)->customer_id == bob.id);
  CHECK_FALSE((*e3)->customer_id);
  CHECK((*e3)->external_number == "anonymous");
}
