#pragma once

// Shared by the store tests: temporary directories, the database backends
// under test (a SQLite file, and a fresh PostgreSQL database when
// tests/with-postgres.sh provides a server), call records, and helpers that
// step actors with request / receive.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <caf/all.hpp>

#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include "adapters/store/database.hpp"
#include "messages/comms_log_writer_actor.hpp"
#include "messages/type_ids.hpp"
#include "tests/fixtures/temp_dir.hpp"

namespace sb::test {

namespace fs = std::filesystem;

inline const char* env(const char* name) {
  auto* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : nullptr;
}

inline bool pg_available() {
  return env("SB_TEST_PG_URL") != nullptr;
}

inline void warn_pg_skipped(const char* what) {
  WARN("PostgreSQL part of '"
       << what
       << "' SKIPPED: SB_TEST_PG_URL is not set (run the tests through "
          "tests/with-postgres.sh to start a throw-away server)");
}

/// SOCI rewrites a PostgreSQL connect string as `key=value` pairs; a URI
/// passes through intact only when it has a query parameter.
inline std::string soci_pg(const std::string& url) {
  return url + (url.find('?') == std::string::npos ? "?" : "&")
         + "connect_timeout=5";
}

/// A database of its own on the test server, dropped at scope exit, so that
/// tests never see each other's rows.
class pg_database {
public:
  pg_database() {
    static std::atomic<int> counter{0};
    admin_url_ = env("SB_TEST_PG_URL");
    name_ = "sb_store_" + std::to_string(::getpid()) + "_"
            + std::to_string(counter++);
    soci::session admin(soci::postgresql, soci_pg(admin_url_));
    admin << "SET client_min_messages TO WARNING";
    admin << "DROP DATABASE IF EXISTS " << name_;
    admin << "CREATE DATABASE " << name_;
    auto slash = admin_url_.rfind('/');
    url_ = admin_url_.substr(0, slash + 1) + name_;
  }
  ~pg_database() {
    try {
      soci::session admin(soci::postgresql, soci_pg(admin_url_));
      admin << "DROP DATABASE IF EXISTS " << name_ << " WITH (FORCE)";
    } catch (...) {
      // The server may be down after a failed outage test; the whole data
      // directory is thrown away by with-postgres.sh anyway.
    }
  }
  const std::string& url() const {
    return url_;
  }

private:
  std::string admin_url_;
  std::string name_;
  std::string url_;
};

/// One backend under test: a URL plus whatever keeps it alive.
struct backend_case {
  std::string label;
  std::string url;
};

/// Calls `body` once for a SQLite file and once for PostgreSQL (or warns
/// that PostgreSQL is skipped).
inline void
for_each_backend(const char* what,
                 const std::function<void(const backend_case&)>& body) {
  {
    scratch_dir dir;
    backend_case sqlite{"sqlite", "sqlite:" + dir.file("store.db")};
    INFO("backend: sqlite");
    body(sqlite);
  }
  if (!pg_available()) {
    warn_pg_skipped(what);
    return;
  }
  pg_database pg;
  backend_case postgres{"postgresql", pg.url()};
  INFO("backend: postgresql");
  body(postgres);
}

inline std::unique_ptr<store::database> open_or_fail(const std::string& url) {
  auto db = store::database::open(url);
  if (!db)
    FAIL("cannot open " << url << ": " << caf::to_string(db.error()));
  return std::move(*db);
}

/// A completed AMI call as the tracker would hand it over.
inline matched_call make_call(const std::string& linkedid,
                              int64_t started_unix_seconds = 1795299069,
                              caf::optional<int64_t> customer_id = caf::none,
                              const std::string& source = "ami") {
  matched_call m;
  auto& c = m.call;
  c.source = source;
  c.ext_message_id = linkedid;
  c.origin = "test-pbx";
  c.direction = call_direction::inbound;
  c.external_number = "+442079460123";
  c.extension = "1001";
  c.did = "442079460000";
  c.disposition = call_disposition::answered;
  c.started_at = started_unix_seconds * 1000000;
  c.answered_at = c.started_at + 3000000;
  c.ended_at = c.started_at + 10000000;
  c.duration_seconds = 10;
  c.billsec = 7;
  c.talk_seconds = 7;
  m.customer_id = customer_id;
  m.external_e164 = "+442079460123";
  return m;
}

/// Polls `done` until it holds or `limit` passes: for waiting on a database
/// that recovers on its own schedule (the writer's backoff), not on actors.
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds limit
                       = std::chrono::seconds{30}) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return done();
}

inline caf::actor_system_config& test_config(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::switchboard>();
  return cfg;
}

/// An actor system for one test.
struct actor_env {
  caf::actor_system_config cfg;
  caf::actor_system sys{test_config(cfg)};
  caf::scoped_actor self{sys};
  /// Actors that keep themselves alive with their own timers (the matcher's
  /// periodic refresh) end only when told, as the server tells them at
  /// shutdown; the system would otherwise wait for them.
  std::vector<caf::actor> owned;

  template <class Handle>
  Handle own(Handle handle) {
    owned.push_back(caf::actor_cast<caf::actor>(handle));
    return handle;
  }

  ~actor_env() {
    for (auto& a : owned)
      self->send_exit(a, caf::exit_reason::user_shutdown);
  }
};

/// Records the writer holds (memory + spool), asked with a timeout.
inline int64_t held_by(caf::scoped_actor& self,
                       const comms_log_writer_actor& writer) {
  int64_t held = -1;
  self->request(writer, std::chrono::seconds{10}, status_atom_v)
      .receive([&](int64_t n) { held = n; },
               [&](caf::error& err) {
                 FAIL("status request failed: " << caf::to_string(err));
               });
  return held;
}

/// Steps the writer until it holds nothing (each status round trip lets it
/// handle the flushes it queued to itself), bounded in time.
inline bool drained(caf::scoped_actor& self,
                    const comms_log_writer_actor& writer,
                    std::chrono::seconds limit = std::chrono::seconds{20}) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline)
    if (held_by(self, writer) == 0)
      return true;
  return false;
}

/// Terminates `handle` and waits until it is gone (its state destroyed).
template <class Handle>
void stop_actor(caf::scoped_actor& self, const Handle& handle) {
  self->monitor(handle);
  self->send_exit(handle, caf::exit_reason::user_shutdown);
  bool down = false;
  self->receive([&](caf::down_msg&) { down = true; },
                caf::after(std::chrono::seconds{10}) >> [] {});
  REQUIRE(down);
}

} // namespace sb::test
