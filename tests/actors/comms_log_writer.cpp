#include "tests/fixtures/store_support.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>

#include <soci/sqlite3/soci-sqlite3.h>

#include "actors/comms_log_writer.hpp"
#include "adapters/metrics/registry.hpp"
#include "adapters/store/spool.hpp"

using namespace sb;
using namespace sb::test;
using namespace std::chrono_literals;

namespace {

db_config writer_config(const std::string& url, const std::string& spool_path,
                        size_t batch_size = 1000, size_t max_pending = 100000) {
  db_config cfg;
  cfg.url = url;
  cfg.spool_path = spool_path;
  cfg.batch_size = batch_size;
  cfg.max_pending = max_pending;
  return cfg;
}

comms_log_writer_actor spawn_writer(actor_env& env, const db_config& cfg) {
  return env.sys.spawn<caf::detached>(comms_log_writer, cfg);
}

std::vector<matched_call> calls(const std::string& prefix, int from, int to) {
  std::vector<matched_call> out;
  for (int i = from; i < to; ++i)
    out.push_back(make_call(prefix + std::to_string(i), 1795299000 + i));
  return out;
}

int64_t count_in(const std::string& url) {
  auto db = store::database::open(url);
  if (!db)
    return -1;
  auto n = (*db)->count_comms();
  return n ? *n : -1;
}

/// Every id present exactly once (the UNIQUE constraint forbids a second
/// row; this checks none is missing and nothing else is there).
void check_exactly(const std::string& url,
                   const std::vector<std::string>& ext_ids) {
  auto db = open_or_fail(url);
  auto n = db->count_comms();
  REQUIRE(n);
  CHECK(*n == static_cast<int64_t>(ext_ids.size()));
  for (auto& id : ext_ids) {
    auto row = db->find_comms("ami", id);
    REQUIRE(row);
    CHECK(*row);
  }
}

std::vector<std::string> ids(const std::string& prefix, int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i)
    out.push_back(prefix + std::to_string(i));
  return out;
}

/// The ids of an outage test in the order they were sent: `<prefix>before.*`,
/// `<prefix>during.*` (spooled), `<prefix>after.*`.
std::vector<std::string> outage_ids(const std::string& prefix, int before,
                                    int during, int after) {
  auto out = ids(prefix + "before.", 0, before);
  for (auto& id : ids(prefix + "during.", 0, during))
    out.push_back(id);
  for (auto& id : ids(prefix + "after.", 0, after))
    out.push_back(id);
  return out;
}

comms_entry manual_entry() {
  comms_entry e;
  e.direction = "inbound";
  e.duration_seconds = 12;
  e.body = store::call_body(12, "from the HTTP API");
  e.occurred_at = "2026-11-21T22:09:58Z";
  return e;
}

/// A second connection that holds SQLite's write lock, like a long import
/// or an operator's `BEGIN EXCLUSIVE` in the sqlite3 shell.
class sqlite_lock {
public:
  explicit sqlite_lock(const std::string& path)
      : session_(soci::sqlite3, path) {
    // The writer may be opening the same file this instant (WAL mode, the
    // schema check): wait for its lock instead of failing "database is
    // locked".
    session_ << "PRAGMA busy_timeout = 10000";
    session_ << "BEGIN EXCLUSIVE";
    held_ = true;
  }
  void release() {
    if (held_) {
      session_ << "COMMIT";
      held_ = false;
    }
  }
  ~sqlite_lock() {
    try {
      release();
    } catch (...) {
    }
  }

private:
  soci::session session_;
  bool held_ = false;
};

double metric_value(const char* name, const metrics::label_set& labels = {}) {
  return metrics::global().get_counter(name, "", labels).value();
}

} // namespace

TEST_CASE("the writer batches calls, stores each once, and answers requests") {
  scratch_dir dir;
  auto url = "sqlite:" + dir.file("crm.db");
  actor_env env;
  auto writer = spawn_writer(env, writer_config(url, dir.file("spool"), 100));
  auto& batches = metrics::global().get_histogram(
      "switchboard_db_batch_size", "", {},
      {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000});
  auto records_before = batches.sum();
  auto transactions_before = batches.count();
  auto logged_before = metric_value("switchboard_calls_logged_total",
                                    {{"source", "ami"},
                                     {"direction", "inbound"},
                                     {"disposition", "answered"}});

  // A burst of single-call messages and one large vector.
  for (int i = 0; i < 300; ++i)
    env.self->send(writer, calls("w.", i, i + 1));
  env.self->send(writer, calls("w.", 300, 1000));
  REQUIRE(drained(env.self, writer));
  check_exactly(url, ids("w.", 0, 1000));
  CHECK(batches.sum() - records_before == Approx(1000));
  // Calls that waited together were written together: far fewer
  // transactions than messages, and none above batch_size.
  auto transactions = batches.count() - transactions_before;
  CHECK(transactions < 301);
  CHECK(transactions >= 10);
  CHECK(metric_value("switchboard_calls_logged_total",
                     {{"source", "ami"},
                      {"direction", "inbound"},
                      {"disposition", "answered"}})
            - logged_before
        == Approx(1000));

  // Re-sending (a replayed capture, a reconnect) adds nothing.
  env.self->send(writer, calls("w.", 0, 1000));
  REQUIRE(drained(env.self, writer));
  CHECK(count_in(url) == 1000);

  // Manual entries and customers are request / response.
  comms_entry stored;
  env.self
      ->request(writer, 10s, write_atom_v, manual_entry(),
                std::string{"idem-1"})
      .receive([&](comms_entry& e) { stored = e; },
               [&](caf::error& err) { FAIL(caf::to_string(err)); });
  CHECK(stored.id > 0);
  CHECK(stored.source == "manual");
  env.self
      ->request(writer, 10s, write_atom_v, manual_entry(),
                std::string{"idem-1"})
      .receive([&](comms_entry& e) { CHECK(e.id == stored.id); },
               [&](caf::error& err) { FAIL(caf::to_string(err)); });
  CHECK(count_in(url) == 1001);
  env.self
      ->request(writer, 10s, customer_atom_v,
                customer{0, "Alice", "+44 20 7946 0123", "+442079460123", ""})
      .receive(
          [&](customer& c) {
            CHECK(c.id > 0);
            CHECK(c.name == "Alice");
          },
          [&](caf::error& err) { FAIL(caf::to_string(err)); });

  // Data the database refuses is an error of its own kind (HTTP: 422).
  auto bad = manual_entry();
  bad.direction = "sideways";
  env.self->request(writer, 10s, write_atom_v, bad, std::string{})
      .receive(
          [&](comms_entry&) { FAIL("a bad direction was stored"); },
          [&](caf::error& err) { CHECK_FALSE(store::is_unavailable(err)); });
  CHECK(held_by(env.self, writer) == 0);
}

TEST_CASE("a refused record is dropped alone; its batch is written") {
  scratch_dir dir;
  auto url = "sqlite:" + dir.file("crm.db");
  actor_env env;
  auto writer = spawn_writer(env, writer_config(url, dir.file("spool")));
  auto rejected_before = metric_value("switchboard_writer_rejected_total");
  auto batch = calls("r.", 0, 5);
  batch[2].call.source = "carrier-pigeon";
  env.self->send(writer, batch);
  REQUIRE(drained(env.self, writer));
  CHECK(metric_value("switchboard_writer_rejected_total") - rejected_before
        == Approx(1));
  check_exactly(url, {"r.0", "r.1", "r.3", "r.4"});
}

TEST_CASE("SQLite locked by another connection: records wait, then land "
          "exactly once") {
  scratch_dir dir;
  auto path = dir.file("crm.db");
  auto url = "sqlite:" + path;
  open_or_fail(url); // schema in place before the lock
  actor_env env;
  auto writer = spawn_writer(env, writer_config(url, dir.file("spool")));
  env.self->send(writer, calls("before.", 0, 20));
  REQUIRE(drained(env.self, writer));

  sqlite_lock lock{path};
  env.self->send(writer, calls("during.", 0, 30));
  env.self->send(writer, calls("during.", 30, 50));
  CHECK(held_by(env.self, writer) == 50);
  // Manual entries fail fast while the database is unusable: HTTP says 503.
  env.self->request(writer, 10s, write_atom_v, manual_entry(), std::string{})
      .receive([&](comms_entry&) { FAIL("stored while locked"); },
               [&](caf::error& err) { CHECK(store::is_unavailable(err)); });
  env.self->request(writer, 10s, customer_atom_v, customer{})
      .receive([&](customer&) { FAIL("stored while locked"); },
               [&](caf::error& err) { CHECK(store::is_unavailable(err)); });
  CHECK(held_by(env.self, writer) == 50);
  // Readers are not blocked by the writer's outage (WAL).
  CHECK(count_in(url) == 20);

  lock.release();
  env.self->send(writer, calls("after.", 0, 10));
  REQUIRE(eventually([&] { return count_in(url) == 80; }));
  REQUIRE(drained(env.self, writer));
  check_exactly(url, outage_ids("", 20, 50, 10));
  // Requests work again once the writer has seen the database back.
  env.self->request(writer, 10s, write_atom_v, manual_entry(), std::string{})
      .receive([&](comms_entry& e) { CHECK(e.id > 0); },
               [&](caf::error& err) { FAIL(caf::to_string(err)); });
}

TEST_CASE("beyond max_pending records go to the spool and come back") {
  scratch_dir dir;
  auto path = dir.file("crm.db");
  auto url = "sqlite:" + path;
  auto spool_path = dir.file("writer.spool");
  open_or_fail(url);
  actor_env env;
  auto writer = spawn_writer(env, writer_config(url, spool_path, 7, 3));
  sqlite_lock lock{path};
  for (int i = 0; i < 40; i += 5)
    env.self->send(writer, calls("s.", i, i + 5));
  CHECK(held_by(env.self, writer) == 40);
  {
    // At most 3 in memory: the other 37 are on disk.
    auto s = store::spool::open(spool_path);
    REQUIRE(s);
    CHECK((*s)->depth() == 37);
  }
  lock.release();
  REQUIRE(eventually([&] { return count_in(url) == 40; }));
  REQUIRE(drained(env.self, writer));
  check_exactly(url, ids("s.", 0, 40));
  CHECK(fs::file_size(spool_path) == 0);
}

TEST_CASE("records held at shutdown survive in the spool for the next "
          "writer") {
  scratch_dir dir;
  auto path = dir.file("crm.db");
  auto url = "sqlite:" + path;
  auto spool_path = dir.file("writer.spool");
  open_or_fail(url);
  {
    actor_env env;
    auto writer = spawn_writer(env, writer_config(url, spool_path));
    sqlite_lock lock{path};
    env.self->send(writer, calls("k.", 0, 25));
    CHECK(held_by(env.self, writer) == 25);
    stop_actor(env.self, writer);
    auto s = store::spool::open(spool_path);
    REQUIRE(s);
    CHECK((*s)->depth() == 25);
  }
  CHECK(count_in(url) == 0);
  actor_env env;
  auto writer = spawn_writer(env, writer_config(url, spool_path));
  REQUIRE(eventually([&] { return count_in(url) == 25; }));
  REQUIRE(drained(env.self, writer));
  check_exactly(url, ids("k.", 0, 25));
}

TEST_CASE("a spool another build wrote is moved aside whole, and a new one "
          "serves") {
  scratch_dir dir;
  auto path = dir.file("crm.db");
  auto url = "sqlite:" + path;
  auto spool_path = dir.file("writer.spool");
  open_or_fail(url);
  // What a build with another record format left behind.
  const std::string foreign = "SBSPOOL1\x01\x02\x03\x04 records of old";
  {
    std::ofstream out{spool_path, std::ios::binary};
    out << foreign;
  }
  actor_env env;
  auto writer = spawn_writer(env, writer_config(url, spool_path));
  env.self->send(writer, calls("f.", 0, 5));
  REQUIRE(eventually([&] { return count_in(url) == 5; }));
  REQUIRE(drained(env.self, writer));
  auto aside = spool_path + ".other-build";
  REQUIRE(fs::exists(aside));
  std::ifstream in{aside, std::ios::binary};
  std::string kept{std::istreambuf_iterator<char>{in},
                   std::istreambuf_iterator<char>{}};
  CHECK(kept == foreign);
  check_exactly(url, ids("f.", 0, 5));
}

TEST_CASE("a database missing at start is retried until it appears") {
  scratch_dir dir;
  auto url = "sqlite:" + dir.file("later/crm.db");
  actor_env env;
  auto writer = spawn_writer(env, writer_config(url, dir.file("spool")));
  env.self->send(writer, calls("m.", 0, 10));
  CHECK(held_by(env.self, writer) == 10);
  fs::create_directory(dir.path() / "later");
  REQUIRE(eventually([&] { return count_in(url) == 10; }));
  REQUIRE(drained(env.self, writer));
  check_exactly(url, ids("m.", 0, 10));
}

namespace {

/// Stops and restarts the test server of tests/with-databases.sh.
class pg_server {
public:
  pg_server()
      : bin_(env("SB_TEST_PG_BIN") ? env("SB_TEST_PG_BIN") : ""),
        datadir_(env("SB_TEST_PG_DATADIR") ? env("SB_TEST_PG_DATADIR") : ""),
        port_(env("SB_TEST_PG_PORT") ? env("SB_TEST_PG_PORT") : "") {
    // nop
  }
  ~pg_server() {
    if (stopped_)
      start();
  }
  bool controllable() const {
    return !bin_.empty() && !datadir_.empty() && !port_.empty();
  }
  bool stop() {
    stopped_ = pg_ctl("-m fast -w stop") == 0;
    return stopped_;
  }
  bool start() {
    auto run_dir = fs::path(datadir_).parent_path().string();
    auto ok = pg_ctl("-w -l " + run_dir + "/restart.log -o \"-h 127.0.0.1 -p "
                     + port_ + " -k " + run_dir
                     + " -c fsync=off -c synchronous_commit=off\" start")
              == 0;
    if (ok)
      stopped_ = false;
    return ok;
  }

private:
  int pg_ctl(const std::string& args) {
    // with-databases.sh runs as root and the server as user postgres.
    std::string cmd = (::getuid() == 0 ? "runuser -u postgres -- " : "") + bin_
                      + "/pg_ctl -D " + datadir_ + " " + args
                      + " >/dev/null 2>&1";
    return std::system(cmd.c_str());
  }

  std::string bin_;
  std::string datadir_;
  std::string port_;
  bool stopped_ = false;
};

} // namespace

TEST_CASE("PostgreSQL stopped and restarted: nothing lost, nothing doubled") {
  pg_server server;
  if (!pg_available() || !server.controllable()) {
    warn_pg_skipped("PostgreSQL outage");
    SUCCEED("skipped: no PostgreSQL server to stop");
    return;
  }
  scratch_dir dir;
  pg_database pg;
  auto url = pg.url();
  actor_env env;
  auto writer = spawn_writer(env, writer_config(url, dir.file("spool")));
  env.self->send(writer, calls("pg.before.", 0, 10));
  REQUIRE(drained(env.self, writer));
  CHECK(count_in(url) == 10);

  REQUIRE(server.stop());
  env.self->send(writer, calls("pg.during.", 0, 15));
  env.self->request(writer, 10s, write_atom_v, manual_entry(), std::string{})
      .receive([&](comms_entry&) { FAIL("stored while the server was down"); },
               [&](caf::error& err) { CHECK(store::is_unavailable(err)); });
  CHECK(held_by(env.self, writer) == 15);
  CHECK(count_in(url) == -1); // really down

  REQUIRE(server.start());
  env.self->send(writer, calls("pg.after.", 0, 5));
  REQUIRE(eventually([&] { return count_in(url) == 30; }));
  REQUIRE(drained(env.self, writer));
  check_exactly(url, outage_ids("pg.", 10, 15, 5));
}

TEST_CASE("the writer spools and drains on PostgreSQL too") {
  if (!pg_available()) {
    warn_pg_skipped("writer on PostgreSQL");
    SUCCEED("skipped: no PostgreSQL server");
    return;
  }
  scratch_dir dir;
  pg_database pg;
  actor_env env;
  auto writer
      = spawn_writer(env, writer_config(pg.url(), dir.file("spool"), 50));
  for (int i = 0; i < 500; i += 25)
    env.self->send(writer, calls("pgw.", i, i + 25));
  env.self->send(writer, calls("pgw.", 0, 500)); // all again
  REQUIRE(drained(env.self, writer));
  check_exactly(pg.url(), ids("pgw.", 0, 500));
}
