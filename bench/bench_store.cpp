// Store throughput: (a) database::write_calls rows/s into SQLite (WAL,
// synchronous=NORMAL) and, when SB_TEST_PG_URL is set (run the bench through
// tests/with-databases.sh), into PostgreSQL, with 1, 100 and 1000 rows per
// transaction; (b) the comms_log_writer actor fed one matched call per
// message (as the matcher forwards them under load), in matched calls/s from
// the first send until every record is committed. Medians of 3 runs; never
// fails on timing.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <time.h>
#include <unistd.h>

#include <caf/all.hpp>

#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>

#include "actors/comms_log_writer.hpp"
#include "adapters/store/database.hpp"
#include "bench/bench.hpp"
#include "messages/type_ids.hpp"
#include "tests/fixtures/actor_system.hpp"
#include "tests/fixtures/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using sb::bench::median;
using sb::bench::seconds_since;

constexpr int runs = 3;

/// CPU seconds of the whole process (all threads): on a shared machine the
/// wall clock also measures the neighbours, so both are printed.
double cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec)
         + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct rate {
  double wall = 0; // per wall-clock second
  double cpu = 0;  // per CPU second of this process
};

std::vector<double> walls(const std::vector<rate>& rs) {
  std::vector<double> out;
  for (auto& r : rs)
    out.push_back(r.wall);
  return out;
}

std::vector<double> cpus(const std::vector<rate>& rs) {
  std::vector<double> out;
  for (auto& r : rs)
    out.push_back(r.cpu);
  return out;
}

using sb::test::scratch_dir;

/// A fresh database per run on the PostgreSQL test server.
struct pg_scratch {
  std::string admin;
  std::string name;
  std::string url;
  explicit pg_scratch(int n) {
    static int counter = 0;
    admin = std::getenv("SB_TEST_PG_URL");
    name = "sb_bench_" + std::to_string(::getpid()) + "_" + std::to_string(n)
           + "_" + std::to_string(counter++);
    soci::session s(soci::postgresql, admin + "?connect_timeout=5");
    s << "CREATE DATABASE " << name;
    url = admin.substr(0, admin.rfind('/') + 1) + name;
  }
  ~pg_scratch() {
    try {
      soci::session s(soci::postgresql, admin + "?connect_timeout=5");
      s << "DROP DATABASE IF EXISTS " << name << " WITH (FORCE)";
    } catch (...) {
    }
  }
};

sb::matched_call call(size_t i) {
  sb::matched_call m;
  auto& c = m.call;
  c.source = "ami";
  c.ext_message_id = "1795299069." + std::to_string(i);
  c.origin = "bench";
  c.direction
      = i % 3 == 0 ? sb::call_direction::outbound : sb::call_direction::inbound;
  c.external_number = "+4420794" + std::to_string(60000 + i % 40000);
  c.extension = "100" + std::to_string(1 + i % 3);
  c.disposition = i % 4 == 0 ? sb::call_disposition::no_answer
                             : sb::call_disposition::answered;
  c.started_at = (1795299069LL + static_cast<int64_t>(i)) * 1000000;
  c.ended_at = c.started_at + 42000000;
  c.duration_seconds = 42;
  c.billsec = 35;
  c.talk_seconds = 35;
  if (i % 2 == 0)
    m.customer_id = static_cast<int64_t>(i % 1000 + 1);
  m.external_e164 = c.external_number;
  return m;
}

/// Rows/s of `rows` fresh rows written in transactions of `batch`.
rate write_rate(sb::store::database& db, size_t rows, size_t batch,
                size_t& first_id) {
  std::vector<sb::matched_call> chunk;
  chunk.reserve(batch);
  auto t0 = std::chrono::steady_clock::now();
  auto c0 = cpu_seconds();
  for (size_t done = 0; done < rows; done += batch) {
    chunk.clear();
    for (size_t i = 0; i < batch; ++i)
      chunk.push_back(call(first_id + done + i));
    auto res = db.write_calls(chunk);
    if (!res || *res != batch) {
      std::printf("  write failed: %s\n",
                  res ? "rows skipped" : caf::to_string(res.error()).c_str());
      return {};
    }
  }
  first_id += rows;
  return {static_cast<double>(rows) / seconds_since(t0),
          static_cast<double>(rows) / (cpu_seconds() - c0)};
}

void bench_backend(const char* label,
                   const std::function<std::string(int)>& url_for) {
  struct shape {
    size_t batch;
    size_t rows;
  };
  for (auto s : {shape{1, 3000}, shape{100, 50000}, shape{1000, 100000}}) {
    std::vector<rate> rates;
    for (int run = 0; run < runs; ++run) {
      auto url = url_for(run);
      auto db = sb::store::database::open(url);
      if (!db) {
        std::printf("  %s: cannot open: %s\n", label,
                    caf::to_string(db.error()).c_str());
        return;
      }
      size_t first_id = 0;
      rates.push_back(write_rate(**db, s.rows, s.batch, first_id));
    }
    std::printf("  %-10s batch %5zu: %9.0f rows/s wall, %9.0f rows per CPU "
                "second (medians of %d x %zu rows)\n",
                label, s.batch, median(walls(rates)), median(cpus(rates)), runs,
                s.rows);
    std::fflush(stdout);
  }
}

} // namespace

SB_BENCH("store: write_calls rows/s (SQLite WAL, PostgreSQL)") {
  {
    scratch_dir dir{"sb-bench-store"};
    bench_backend("sqlite", [&](int run) {
      return "sqlite:"
             + (dir.path()
                / ("bench-" + std::to_string(run) + "-"
                   + std::to_string(std::rand()) + ".db"))
                   .string();
    });
  }
  if (std::getenv("SB_TEST_PG_URL") == nullptr) {
    std::printf("  postgresql: skipped (SB_TEST_PG_URL not set; run through "
                "tests/with-databases.sh)\n");
    return;
  }
  std::vector<std::unique_ptr<pg_scratch>> keep;
  bench_backend("postgresql", [&](int run) {
    keep.push_back(std::make_unique<pg_scratch>(run));
    return keep.back()->url;
  });
}

namespace {

/// Matched calls/s through the writer actor: `total` single-call messages,
/// timed until the writer holds nothing.
rate writer_rate(const std::string& url, const std::string& spool,
                 size_t total) {
  sb::test::test_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  sb::db_config db;
  db.url = url;
  db.spool_path = spool;
  auto writer = sys.spawn<caf::detached>(sb::comms_log_writer, db);
  // Wait until it has opened the database.
  self->request(writer, std::chrono::seconds{30}, sb::status_atom_v)
      .receive([](int64_t) {}, [](caf::error&) {});
  auto t0 = std::chrono::steady_clock::now();
  auto c0 = cpu_seconds();
  for (size_t i = 0; i < total; ++i)
    self->send(writer, std::vector<sb::matched_call>{call(i)});
  int64_t held = 1;
  while (held != 0) {
    self->request(writer, std::chrono::seconds{30}, sb::status_atom_v)
        .receive([&](int64_t n) { held = n; }, [&](caf::error&) { held = 0; });
    if (held != 0)
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  rate r{static_cast<double>(total) / seconds_since(t0),
         static_cast<double>(total) / (cpu_seconds() - c0)};
  self->send_exit(writer, caf::exit_reason::user_shutdown);
  return r;
}

} // namespace

SB_BENCH("store: comms_log_writer actor matched calls/s") {
  constexpr size_t total = 100000;
  {
    scratch_dir dir{"sb-bench-store"};
    std::vector<rate> rates;
    for (int run = 0; run < runs; ++run)
      rates.push_back(writer_rate(
          "sqlite:"
              + (dir.path() / ("writer-" + std::to_string(run) + ".db"))
                    .string(),
          (dir.path() / ("spool-" + std::to_string(run))).string(), total));
    std::printf("  %-10s %9.0f matched calls/s wall, %9.0f per CPU second "
                "(medians of %d x %zu, one call per message)\n",
                "sqlite", median(walls(rates)), median(cpus(rates)), runs,
                total);
    std::fflush(stdout);
  }
  if (std::getenv("SB_TEST_PG_URL") == nullptr) {
    std::printf("  postgresql: skipped (SB_TEST_PG_URL not set)\n");
    return;
  }
  scratch_dir dir{"sb-bench-store"};
  std::vector<rate> rates;
  for (int run = 0; run < runs; ++run) {
    pg_scratch pg{run};
    rates.push_back(writer_rate(
        pg.url, (dir.path() / ("spool-" + std::to_string(run))).string(),
        total));
  }
  std::printf("  %-10s %9.0f matched calls/s wall, %9.0f per CPU second "
              "(medians of %d x %zu, one call per message)\n",
              "postgresql", median(walls(rates)), median(cpus(rates)), runs,
              total);
}
