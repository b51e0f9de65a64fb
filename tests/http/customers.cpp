// The customer API a CRM drives (list with filters and cursor, PATCH,
// DELETE keeping detached entries, 409 on a taken number or external id,
// Idempotency-Key), incremental sync of the comms log (updated_since, order,
// external_number, customer_name, re-match on a customer change, with the
// events raised) and CORS; over real HTTP on SQLite and PostgreSQL.

#include <mutex>

#include "tests/fixtures/http_fixture.hpp"
#include "tests/fixtures/store_support.hpp"
#include "tests/fixtures/wait.hpp"

using namespace sb;
using namespace sb::test;

namespace {

/// Events the server raised, in order.
struct event_log {
  std::mutex mutex;
  std::vector<crm_event> events;

  crm_event_sink sink() {
    return [this](crm_event e) {
      std::lock_guard<std::mutex> guard{mutex};
      events.push_back(std::move(e));
    };
  }
  std::vector<std::string> types() {
    std::lock_guard<std::mutex> guard{mutex};
    std::vector<std::string> out;
    for (auto& e : events)
      out.push_back(e.type);
    return out;
  }
};

httplib::Result post_customer(httplib::Client& c, const std::string& body,
                              const std::string& key = "") {
  auto headers = auth_write();
  if (!key.empty())
    headers.emplace("Idempotency-Key", key);
  return c.Post("/api/crm/customers", headers, body, "application/json");
}

httplib::Result patch_customer(httplib::Client& c, int64_t id,
                               const std::string& body) {
  return c.Patch(("/api/crm/customers/" + std::to_string(id)).c_str(),
                 auth_write(), body, "application/json");
}

/// Unmatched inbound calls from `e164`, written as the pipeline would.
void write_unmatched(test_server& srv, const std::string& e164,
                     std::vector<std::string> linkedids) {
  std::vector<matched_call> calls;
  int64_t t = 1795299000;
  for (auto& id : linkedids) {
    auto m = make_call(id, t += 60);
    m.call.external_number = e164;
    m.external_e164 = e164;
    calls.push_back(m);
  }
  REQUIRE(srv.open_db()->write_calls(calls));
}

/// Every entry of a comms query, following next_cursor.
std::vector<int64_t> all_pages(httplib::Client& c, const std::string& query) {
  std::vector<int64_t> ids;
  std::string cursor;
  for (int page = 0; page < 20; ++page) {
    auto url = "/api/crm/comms?" + query
               + (cursor.empty() ? "" : "&cursor=" + cursor);
    auto res = c.Get(url.c_str(), auth_read());
    REQUIRE(res);
    INFO(url << " -> " << res->body);
    REQUIRE(res->status == 200);
    auto doc = json_of(res);
    for (auto& e : doc["entries"].GetArray())
      ids.push_back(e["id"].GetInt64());
    if (doc["next_cursor"].IsNull())
      return ids;
    cursor = doc["next_cursor"].GetString();
  }
  FAIL("more than 20 pages");
  return ids;
}

void customer_api(test_server& srv, event_log& events) {
  auto c = srv.client();
  auto ada = post_customer(
      c, R"({"name":"Ada","phone":"020 7946 0123","external_id":"crm-1"})");
  REQUIRE(ada);
  REQUIRE(ada->status == 201);
  auto ada_id = num(json_of(ada), "id");
  CHECK(str(json_of(ada), "external_id") == "crm-1");
  CHECK(str(json_of(ada), "updated_at").size() == 20);

  // The same number in another format, or the same CRM id: 409, nothing
  // written.
  for (std::string body :
       {R"({"name":"Ada 2","phone":"+44 20 7946 0123"})",
        R"({"name":"Bob","phone":"07700 900123","external_id":"crm-1"})"}) {
    auto dup = post_customer(c, body);
    REQUIRE(dup);
    INFO(body << " -> " << dup->body);
    CHECK(dup->status == 409);
    CHECK(error_code(dup) == "customer_exists");
    CHECK(str(json_of(dup), "message").find(std::to_string(ada_id))
          != std::string::npos);
  }
  CHECK(srv.customer_rows() == 1);
  // A retry with its Idempotency-Key gets the first answer, not a 409.
  auto bob_body = std::string{R"({"name":"Bob","phone":"07700 900123"})"};
  auto bob = post_customer(c, bob_body, "bob-1");
  REQUIRE(bob);
  REQUIRE(bob->status == 201);
  auto bob_id = num(json_of(bob), "id");
  auto retry = post_customer(c, bob_body, "bob-1");
  REQUIRE(retry);
  CHECK(retry->status == 201);
  CHECK(num(json_of(retry), "id") == bob_id);
  auto reused
      = post_customer(c, R"({"name":"Eve","phone":"07700 900999"})", "bob-1");
  REQUIRE(reused);
  CHECK(reused->status == 409);
  CHECK(error_code(reused) == "idempotency_key_reused");
  CHECK(srv.customer_rows() == 2);

  // List, filters, cursor.
  auto page = c.Get("/api/crm/customers?limit=1", auth_read());
  REQUIRE(page);
  REQUIRE(page->status == 200);
  auto first = json_of(page);
  REQUIRE(first["customers"].Size() == 1);
  CHECK(first["customers"][0]["id"].GetInt64() == ada_id);
  REQUIRE(first["next_cursor"].IsString());
  auto next = c.Get(("/api/crm/customers?limit=1&cursor="
                     + std::string{first["next_cursor"].GetString()})
                        .c_str(),
                    auth_read());
  auto second = json_of(next);
  REQUIRE(second["customers"].Size() == 1);
  CHECK(second["customers"][0]["id"].GetInt64() == bob_id);
  CHECK(second["next_cursor"].IsNull());
  auto by_id = json_of(c.Get("/api/crm/customers?external_id=crm-1",
                             auth_read()));
  REQUIRE(by_id["customers"].Size() == 1);
  CHECK(by_id["customers"][0]["id"].GetInt64() == ada_id);
  auto by_phone = json_of(
      c.Get("/api/crm/customers?phone=%2B447700900123", auth_read()));
  REQUIRE(by_phone["customers"].Size() == 1);
  CHECK(by_phone["customers"][0]["id"].GetInt64() == bob_id);
  for (const char* bad : {"/api/crm/customers?cursor=xyz",
                          "/api/crm/customers?sort=name",
                          "/api/crm/customers?limit=0"}) {
    auto res = c.Get(bad, auth_read());
    REQUIRE(res);
    CHECK(res->status == 400);
  }

  // PATCH: a rename shows on the entries at once; a taken number is 409.
  REQUIRE(srv.open_db()->write_calls(
      {make_call("9.1", 1795299069, ada_id)}));
  auto renamed = patch_customer(c, ada_id, R"({"name":"Ada Lovelace"})");
  REQUIRE(renamed);
  REQUIRE(renamed->status == 200);
  CHECK(str(json_of(renamed), "name") == "Ada Lovelace");
  CHECK(str(json_of(renamed), "external_id") == "crm-1");
  auto entries = json_of(c.Get(
      ("/api/crm/comms?customer_id=" + std::to_string(ada_id)).c_str(),
      auth_read()));
  REQUIRE(entries["entries"].Size() == 1);
  CHECK(str(entries["entries"][0], "customer_name") == "Ada Lovelace");
  auto taken = patch_customer(c, bob_id, R"({"phone":"020 7946 0123"})");
  REQUIRE(taken);
  CHECK(taken->status == 409);
  CHECK(error_code(taken) == "customer_exists");
  for (std::string body : {"{}", R"({"id":5})", R"({"phone":"anonymous"})",
                           R"({"name":""})"}) {
    auto bad = patch_customer(c, bob_id, body);
    REQUIRE(bad);
    INFO(body << " -> " << bad->body);
    CHECK(bad->status == 422);
  }
  auto missing = patch_customer(c, 999999, R"({"name":"X"})");
  REQUIRE(missing);
  CHECK(missing->status == 404);

  // DELETE keeps the entries, detached; the number is free again.
  auto del = c.Delete(("/api/crm/customers/" + std::to_string(ada_id)).c_str(),
                      auth_write());
  REQUIRE(del);
  CHECK(del->status == 204);
  auto gone = c.Get(("/api/crm/customers/" + std::to_string(ada_id)).c_str(),
                    auth_read());
  REQUIRE(gone);
  CHECK(gone->status == 404);
  auto kept = srv.open_db()->find_comms("ami", "9.1");
  REQUIRE(kept);
  REQUIRE(*kept);
  CHECK_FALSE((*kept)->customer_id);
  auto again = c.Delete(("/api/crm/customers/" + std::to_string(ada_id)).c_str(),
                        auth_write());
  REQUIRE(again);
  CHECK(again->status == 404);
  auto read_only = c.Delete(
      ("/api/crm/customers/" + std::to_string(bob_id)).c_str(), auth_read());
  REQUIRE(read_only);
  CHECK(read_only->status == 403);
  CHECK(srv.customer_rows() == 1);

  auto types = events.types();
  CHECK(types
        == std::vector<std::string>{"customer.created", "customer.created",
                                    "customer.updated", "customer.deleted"});
}

} // namespace

TEST_CASE("customers: list, PATCH, DELETE, 409 and Idempotency-Key on SQLite",
          "[http][customers]") {
  event_log events;
  server_options opts;
  opts.events = events.sink();
  test_server srv{opts};
  customer_api(srv, events);
}

TEST_CASE("customers: list, PATCH, DELETE, 409 and Idempotency-Key on "
          "PostgreSQL",
          "[http][customers]") {
  if (!pg_available()) {
    warn_pg_skipped("customers over HTTP");
    return;
  }
  pg_database pg;
  event_log events;
  server_options opts;
  opts.db_url = pg.url();
  opts.events = events.sink();
  test_server srv{opts};
  customer_api(srv, events);
}

TEST_CASE("an unmatched call is matched when its customer is added; the "
          "matcher matches the next call at once",
          "[http][customers][rematch]") {
  event_log events;
  server_options opts;
  opts.events = events.sink();
  test_server srv{opts};
  auto c = srv.client();
  write_unmatched(srv, "+447700900123", {"5.1", "5.2"});
  auto carol = post_customer(c, R"({"name":"Carol","phone":"07700 900123"})");
  REQUIRE(carol);
  REQUIRE(carol->status == 201);
  auto id = num(json_of(carol), "id");
  auto list = json_of(c.Get("/api/crm/comms?external_number=07700%20900123",
                            auth_read()));
  REQUIRE(list["entries"].Size() == 2);
  for (auto& e : list["entries"].GetArray()) {
    CHECK(e["customer_id"].GetInt64() == id);
    CHECK(str(e, "customer_name") == "Carol");
  }
  auto types = events.types();
  CHECK(types
        == std::vector<std::string>{"customer.created", "call.matched",
                                    "call.matched"});
  {
    std::lock_guard<std::mutex> guard{events.mutex};
    CHECK(events.events[1].customer_id == caf::optional<int64_t>{id});
    CHECK(events.events[1].payload_json.find("\"name\":\"Carol\"")
          != std::string::npos);
  }
  // The matcher's index followed: a call ending now is matched directly.
  auto next = make_call("5.3", 1795300000);
  next.call.external_number = "07700900123";
  caf::anon_send(srv.matcher, std::vector<completed_call>{next.call});
  CHECK(eventually([&] {
    auto e = srv.open_db()->find_comms("ami", "5.3");
    return e && *e && (*e)->customer_id == caf::optional<int64_t>{id};
  }));
  // A deleted customer leaves the index: the next call is unmatched.
  auto del = c.Delete(("/api/crm/customers/" + std::to_string(id)).c_str(),
                      auth_write());
  REQUIRE(del);
  REQUIRE(del->status == 204);
  auto later = make_call("5.4", 1795300100);
  later.call.external_number = "07700900123";
  caf::anon_send(srv.matcher, std::vector<completed_call>{later.call});
  CHECK(eventually([&] {
    auto e = srv.open_db()->find_comms("ami", "5.4");
    return e && *e && !(*e)->customer_id;
  }));
}

TEST_CASE("comms: updated_since, order and external_number page correctly",
          "[http][sync]") {
  test_server srv;
  auto c = srv.client();
  write_unmatched(srv, "+447700900123", {"6.1", "6.3", "6.5"});
  write_unmatched(srv, "+442079460999", {"6.2", "6.4"});
  auto newest_first = all_pages(c, "limit=2");
  REQUIRE(newest_first.size() == 5);
  auto oldest_first = all_pages(c, "limit=2&order=asc");
  CHECK(oldest_first
        == std::vector<int64_t>(newest_first.rbegin(), newest_first.rend()));
  auto by_number = all_pages(c, "limit=2&order=asc&external_number=%2B447700900123");
  CHECK(by_number.size() == 3);
  // updated_since defaults to oldest change first and pages by updated_at.
  auto changed = all_pages(c, "limit=2&updated_since=2020-01-01T00:00:00Z");
  CHECK(changed.size() == 5);
  auto none = all_pages(c, "updated_since=2999-01-01T00:00:00Z");
  CHECK(none.empty());
  auto res = c.Get("/api/crm/comms?limit=1", auth_read());
  auto doc = json_of(res);
  REQUIRE(doc["entries"].Size() == 1);
  CHECK(str(doc["entries"][0], "updated_at").size() == 20);
  CHECK(doc["entries"][0]["customer_name"].IsNull());
  // A cursor of one order is refused in another.
  auto cursor = std::string{doc["next_cursor"].GetString()};
  auto mixed = c.Get(("/api/crm/comms?order=asc&cursor=" + cursor).c_str(),
                     auth_read());
  REQUIRE(mixed);
  CHECK(mixed->status == 400);
  for (const char* bad :
       {"/api/crm/comms?order=up", "/api/crm/comms?updated_since=yesterday",
        "/api/crm/comms?external_number=anonymous"}) {
    auto r = c.Get(bad, auth_read());
    REQUIRE(r);
    INFO(bad << " -> " << r->body);
    CHECK(r->status == 400);
    CHECK(error_code(r) == "invalid_parameter");
  }
}

TEST_CASE("CORS: an allowed origin's preflight is answered; other origins "
          "and plain requests are unchanged",
          "[http][cors]") {
  server_options opts;
  opts.cors_origins = "https://crm.example.com, http://localhost:3000";
  test_server srv{opts};
  auto c = srv.client();
  httplib::Headers preflight{{"Origin", "https://crm.example.com"},
                             {"Access-Control-Request-Method", "PATCH"},
                             {"Access-Control-Request-Headers",
                              "authorization, content-type"}};
  auto pre = c.Options("/api/crm/customers/1", preflight);
  REQUIRE(pre);
  CHECK(pre->status == 204);
  CHECK(pre->get_header_value("Access-Control-Allow-Origin")
        == "https://crm.example.com");
  auto methods = pre->get_header_value("Access-Control-Allow-Methods");
  CHECK(methods.find("PATCH") != std::string::npos);
  CHECK(methods.find("DELETE") != std::string::npos);
  CHECK(methods.find("GET") != std::string::npos);
  auto headers = pre->get_header_value("Access-Control-Allow-Headers");
  CHECK(headers.find("Authorization") != std::string::npos);
  CHECK(headers.find("Content-Type") != std::string::npos);
  CHECK(headers.find("Idempotency-Key") != std::string::npos);
  CHECK(pre->get_header_value("Vary") == "Origin");

  // The actual request: answered as always, readable by the page.
  auto headers_get = auth_read();
  headers_get.emplace("Origin", "http://localhost:3000");
  auto get = c.Get("/api/crm/customers", headers_get);
  REQUIRE(get);
  CHECK(get->status == 200);
  CHECK(get->get_header_value("Access-Control-Allow-Origin")
        == "http://localhost:3000");
  // An error too (a page must be able to read why).
  auto denied = c.Get("/api/crm/customers",
                      {{"Origin", "http://localhost:3000"}});
  REQUIRE(denied);
  CHECK(denied->status == 401);
  CHECK(denied->get_header_value("Access-Control-Allow-Origin")
        == "http://localhost:3000");

  // Not listed (a look-alike, another port): no CORS headers, no preflight.
  for (const char* origin : {"https://crm.example.com.evil.test",
                             "http://localhost:3001", "null"}) {
    INFO(origin);
    auto other = c.Options("/api/crm/customers/1",
                           {{"Origin", origin},
                            {"Access-Control-Request-Method", "PATCH"}});
    REQUIRE(other);
    CHECK(other->status == 405);
    CHECK_FALSE(other->has_header("Access-Control-Allow-Origin"));
    auto h = auth_read();
    h.emplace("Origin", origin);
    auto plain = c.Get("/api/crm/customers", h);
    REQUIRE(plain);
    CHECK(plain->status == 200);
    CHECK_FALSE(plain->has_header("Access-Control-Allow-Origin"));
  }
  // Without an Origin nothing changes.
  auto bare = c.Get("/api/crm/customers", auth_read());
  REQUIRE(bare);
  CHECK_FALSE(bare->has_header("Access-Control-Allow-Origin"));

  // The origins are swapped while serving (SIGHUP).
  srv.admin->set_cors_origins("http://localhost:3001");
  auto swapped = c.Options("/api/crm/customers",
                           {{"Origin", "http://localhost:3001"},
                            {"Access-Control-Request-Method", "POST"}});
  REQUIRE(swapped);
  CHECK(swapped->status == 204);
  auto old = c.Options("/api/crm/customers",
                       {{"Origin", "https://crm.example.com"},
                        {"Access-Control-Request-Method", "POST"}});
  REQUIRE(old);
  CHECK(old->status == 405);
}
