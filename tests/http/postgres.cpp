// The API against a real PostgreSQL (SB_TEST_PG_URL, set by
// tests/with-databases.sh): the read pool and the writer on the production
// store.

#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>

#include <unistd.h>

#include "tests/fixtures/http_fixture.hpp"

using namespace sb;
using namespace sb::test;

namespace {

/// A fresh database on the test server, dropped afterwards.
struct pg_database {
  std::string admin_url;
  std::string name;
  std::string url;

  static std::string soci_url(const std::string& u) {
    return u + (u.find('?') == std::string::npos ? "?" : "&")
           + "connect_timeout=5";
  }

  explicit pg_database(std::string admin) : admin_url(std::move(admin)) {
    name = "sb_http_" + std::to_string(::getpid());
    soci::session s(soci::postgresql, soci_url(admin_url));
    s << "DROP DATABASE IF EXISTS " << name << " WITH (FORCE)";
    s << "CREATE DATABASE " << name;
    url = admin_url.substr(0, admin_url.rfind('/') + 1) + name;
  }

  ~pg_database() {
    try {
      soci::session s(soci::postgresql, soci_url(admin_url));
      s << "DROP DATABASE IF EXISTS " << name << " WITH (FORCE)";
    } catch (...) {
    }
  }
};

} // namespace

TEST_CASE("customers, manual logs and paging on PostgreSQL") {
  auto* admin = std::getenv("SB_TEST_PG_URL");
  if (admin == nullptr || *admin == '\0') {
    WARN("SB_TEST_PG_URL not set: PostgreSQL HTTP test skipped (run through "
         "tests/with-databases.sh)");
    SUCCEED("skipped: no PostgreSQL server");
    return;
  }
  pg_database pg{admin};
  server_options opts;
  opts.db_url = pg.url;
  test_server srv{opts};
  auto c = srv.client();
  auto id = add_customer(c, "Pat", "020 7946 0300");
  auto found = c.Get("/api/crm/customers?phone=%2B442079460300", auth_read());
  REQUIRE(found);
  REQUIRE(found->status == 200);
  CHECK(json_of(found)["customers"].Size() == 1);
  std::string body = R"({"customer_id":)" + std::to_string(id)
                     + R"(,"direction":"inbound","duration_seconds":12,)"
                       R"("occurred_at":"2026-11-21T10:00:00Z"})";
  auto headers = auth_write();
  headers.emplace("Idempotency-Key", "pg-1");
  auto first = c.Post("/api/crm/calls/log", headers, body, "application/json");
  auto again = c.Post("/api/crm/calls/log", headers, body, "application/json");
  REQUIRE(first);
  REQUIRE(again);
  CHECK(first->status == 201);
  CHECK(again->status == 201);
  CHECK(num(json_of(first), "id") == num(json_of(again), "id"));
  for (int i = 0; i < 5; ++i)
    c.Post("/api/crm/calls/log", auth_write(), body, "application/json");
  CHECK(srv.comms_rows() == 6);
  std::set<int64_t> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto res = c.Get(
        ("/api/crm/comms?limit=4" + (cursor.empty() ? "" : "&cursor=" + cursor))
            .c_str(),
        auth_read());
    REQUIRE(res);
    REQUIRE(res->status == 200);
    auto page = json_of(res);
    for (auto& e : page["entries"].GetArray())
      seen.insert(num(e, "id"));
    cursor
        = page["next_cursor"].IsNull() ? "" : page["next_cursor"].GetString();
  } while (!cursor.empty() && ++pages < 5);
  CHECK(seen.size() == 6);
  auto ready = c.Get("/readyz");
  REQUIRE(ready);
  CHECK(ready->status == 200);
}
