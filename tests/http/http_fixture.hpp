#pragma once

// A running switchboard HTTP API for tests: a real SQLite file in a fresh
// temp dir, the real comms_log_writer and customer_matcher actors, and
// http_admin listening on 127.0.0.1 at a port the kernel picked.

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <catch2/catch.hpp>
#include <httplib.h>
#include <rapidjson/document.h>

#include "actors/comms_log_writer.hpp"
#include "actors/customer_matcher.hpp"
#include "actors/http_admin.hpp"
#include "adapters/store/database.hpp"
#include "messages/type_ids.hpp"
#include "tests/fixtures/temp_dir.hpp"

namespace sb::test {

inline const std::string write_token = "test-write-token-0123456789";
inline const std::string read_token = "test-read-token-9876543210";

struct test_system_config : caf::actor_system_config {
  test_system_config() {
    add_message_types<caf::id_block::switchboard>();
    // The machine is shared: a few scheduler threads are plenty.
    set("scheduler.max-threads", 2);
  }
};

/// Options a test may change before the server starts.
struct server_options {
  std::string token = write_token;
  std::string read_token = sb::test::read_token;
  /// Empty = sqlite file in the temp dir.
  std::string db_url;
  bool spawn_writer = true;
  bool spawn_matcher = true;
  unsigned threads = 8;
  double request_timeout_seconds = 5;
  std::vector<live_call_source> live_calls;
  std::function<std::vector<connection_status>()> connections;
};

struct http_server {
  scratch_dir dir;
  test_system_config sys_cfg;
  caf::actor_system sys{sys_cfg};
  app_config cfg;
  comms_log_writer_actor writer;
  customer_matcher_actor matcher;
  std::unique_ptr<http_admin> admin;
  uint16_t port = 0;

  explicit http_server(server_options opts = {}) {
    cfg.db.url = opts.db_url.empty()
                     ? "sqlite:" + (dir.path() / "switchboard.db").string()
                     : opts.db_url;
    cfg.db.spool_path = (dir.path() / "switchboard.spool").string();
    cfg.http.listen = "127.0.0.1:0";
    cfg.http.token = opts.token;
    cfg.http.read_token = opts.read_token;
    cfg.http.threads = opts.threads;
    cfg.http.request_timeout_seconds = opts.request_timeout_seconds;
    cfg.phone.default_region = "GB";
    if (opts.spawn_writer) {
      // Migrate once up front: the writer and the matcher each open the
      // database at start, and two first-time migrations racing for SQLite's
      // write lock can fail one of them with "database is locked".
      REQUIRE(store::database::open(cfg.db.url));
      writer = sys.spawn<caf::detached>(comms_log_writer, cfg.db);
    }
    if (opts.spawn_matcher && opts.spawn_writer)
      matcher = sys.spawn(customer_matcher, cfg.phone, cfg.db.url, writer);
    if (opts.spawn_writer) {
      // The writer opens (and migrates) the database at start; asking it
      // something waits until it has, so the read pool finds the schema.
      caf::scoped_actor self{sys};
      self->request(writer, std::chrono::seconds(10), status_atom_v)
          .receive([](int64_t) {},
                   [](caf::error& err) { FAIL("writer: " << to_string(err)); });
    }
    http_deps deps{sys, cfg};
    deps.writer = writer;
    deps.matcher = matcher;
    deps.live_calls = std::move(opts.live_calls);
    deps.connections = std::move(opts.connections);
    admin = std::make_unique<http_admin>(std::move(deps));
    auto bound = admin->start();
    REQUIRE(bound);
    port = *bound;
  }

  ~http_server() {
    admin->stop();
    if (matcher)
      caf::anon_send_exit(matcher, caf::exit_reason::user_shutdown);
    if (writer)
      caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
  }

  httplib::Client client() const {
    httplib::Client c{"127.0.0.1", port};
    c.set_connection_timeout(5);
    c.set_read_timeout(10);
    return c;
  }

  /// A separate connection to the same database, for assertions.
  std::unique_ptr<store::database> open_db() const {
    auto db = store::database::open(cfg.db.url);
    REQUIRE(db);
    return std::move(*db);
  }

  int64_t comms_rows() const {
    auto n = open_db()->count_comms();
    REQUIRE(n);
    return *n;
  }

  int64_t customer_rows() const {
    // Customers added over HTTP always have a normalized number.
    auto all = open_db()->all_customers();
    REQUIRE(all);
    return static_cast<int64_t>(all->size());
  }
};

inline httplib::Headers auth(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

inline httplib::Headers auth_write() {
  return auth(write_token);
}

inline httplib::Headers auth_read() {
  return auth(read_token);
}

/// Parses a response body as JSON (fails the test when it is not).
inline rapidjson::Document json_of(const httplib::Result& res) {
  REQUIRE(res);
  rapidjson::Document doc;
  doc.Parse(res->body.c_str());
  INFO("body: " << res->body);
  REQUIRE_FALSE(doc.HasParseError());
  return doc;
}

/// The `error` code of a JSON error answer (fails the test when the body is
/// not one).
inline std::string error_code(const httplib::Result& res) {
  auto doc = json_of(res);
  INFO("body: " << res->body);
  REQUIRE(doc.IsObject());
  REQUIRE(doc.HasMember("error"));
  REQUIRE(doc["error"].IsString());
  REQUIRE(doc.HasMember("message"));
  REQUIRE(doc["message"].IsString());
  CHECK(doc["message"].GetStringLength() > 0);
  return doc["error"].GetString();
}

inline std::string str(const rapidjson::Value& v, const char* key) {
  REQUIRE(v.HasMember(key));
  REQUIRE(v[key].IsString());
  return v[key].GetString();
}

inline int64_t num(const rapidjson::Value& v, const char* key) {
  REQUIRE(v.HasMember(key));
  REQUIRE(v[key].IsInt64());
  return v[key].GetInt64();
}

/// Adds a customer over HTTP and returns its id.
inline int64_t add_customer(httplib::Client& c, const std::string& name,
                            const std::string& phone) {
  auto body
      = std::string{R"({"name":")"} + name + R"(","phone":")" + phone + R"("})";
  auto res
      = c.Post("/api/crm/customers", auth_write(), body, "application/json");
  REQUIRE(res);
  INFO(res->body);
  REQUIRE(res->status == 201);
  return num(json_of(res), "id");
}

} // namespace sb::test
