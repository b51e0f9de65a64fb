// HTTP API throughput and latency over loopback: POST /api/crm/calls/log
// (through the comms_log_writer actor into SQLite) and GET /api/crm/comms
// (through the read pool). Closed-loop keep-alive clients; prints requests/s
// and p50 / p99 per run and the medians. Goal on this machine: 5,000 writes/s
// and 20,000 reads/s with p99 under 20 ms.
//
// Request log lines go to stderr at info level as in production; run
// `bench http 2>/dev/null` to keep the terminal readable.
// SB_BENCH_HTTP_SECONDS sets the length of one run (default 3).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actors/comms_log_writer.hpp"
#include "actors/customer_matcher.hpp"
#include "adapters/store/database.hpp"
#include "bench/bench.hpp"
#include "http/server.hpp"
#include "messages/type_ids.hpp"
#include "tests/fixtures/actor_system.hpp"
#include "tests/fixtures/temp_dir.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

constexpr int runs = 3;
const std::string token = "bench-token-0123456789abcdef";

double run_seconds() {
  if (auto* s = std::getenv("SB_BENCH_HTTP_SECONDS"))
    return std::max(0.5, std::atof(s));
  return 3.0;
}

using bench_config = sb::test::test_config;

struct run_result {
  double rps = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  size_t errors = 0;
};

/// `clients` keep-alive connections, each sending `make(client, i)` in a loop
/// for `seconds`.
template <class Send>
run_result load(uint16_t port, int clients, double seconds, Send send) {
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(clients);
  std::vector<size_t> errors(clients, 0);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      httplib::Client cli{"127.0.0.1", port};
      cli.set_keep_alive(true);
      cli.set_tcp_nodelay(true);
      cli.set_read_timeout(10);
      latencies[c].reserve(100000);
      while (!go.load())
        std::this_thread::yield();
      for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        auto t0 = clock_type::now();
        bool ok = send(cli, c, i);
        latencies[c].push_back(
            std::chrono::duration<double, std::milli>(clock_type::now() - t0)
                .count());
        if (!ok)
          ++errors[c];
      }
    });
  auto t0 = clock_type::now();
  go = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads)
    t.join();
  auto elapsed = sb::bench::seconds_since(t0);
  std::vector<double> all;
  run_result r;
  for (int c = 0; c < clients; ++c) {
    all.insert(all.end(), latencies[c].begin(), latencies[c].end());
    r.errors += errors[c];
  }
  r.rps = static_cast<double>(all.size()) / elapsed;
  r.p50_ms = sb::bench::percentile(all, 0.50);
  r.p99_ms = sb::bench::percentile(all, 0.99);
  return r;
}

void print_run(const char* what, int run, const run_result& r) {
  std::printf("  %-28s run %d: %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms"
              "  errors %zu\n",
              what, run, r.rps, r.p50_ms, r.p99_ms, r.errors);
}

void print_median(const char* what, const std::vector<run_result>& rs,
                  double goal_rps) {
  std::vector<double> rps, p50, p99;
  for (auto& r : rs) {
    rps.push_back(r.rps);
    p50.push_back(r.p50_ms);
    p99.push_back(r.p99_ms);
  }
  std::printf("  %-28s median: %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms"
              "  (goal %.0f req/s, p99 < 20 ms)\n",
              what, sb::bench::median(rps), sb::bench::median(p50),
              sb::bench::median(p99), goal_rps);
}

/// A keep-alive connection that made one request and now waits, as a
/// browser tab or an idle pool connection does. -1 when refused.
int open_idle_connection(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  static constexpr char request[]
    = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  char reply[512];
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0
      || ::send(fd, request, sizeof(request) - 1, 0) < 0
      || ::recv(fd, reply, sizeof(reply), 0) <= 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// 2,000 idle keep-alive connections: the server's memory per open
/// connection, then the read and floor figures again with them open.
void idle_connections_case(uint16_t port, const httplib::Headers& auth,
                           double seconds, int clients) {
  constexpr int idle_count = 2000;
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < 8192) {
    files.rlim_cur = std::min<rlim_t>(files.rlim_max, 8192);
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  auto rss_before = sb::bench::current_rss_bytes();
  std::vector<int> idle;
  idle.reserve(idle_count);
  for (int i = 0; i < idle_count; ++i)
    if (auto fd = open_idle_connection(port); fd >= 0)
      idle.push_back(fd);
  // Both ends live in this process: the client side is a bare socket, so
  // the growth is the server's (plus two kernel sockets, not in RSS).
  auto rss_after = sb::bench::current_rss_bytes();
  std::printf("  %zu idle keep-alive connections open: RSS %.1f -> %.1f MiB,"
              " %.1f KiB per connection\n",
              idle.size(), static_cast<double>(rss_before) / (1 << 20),
              static_cast<double>(rss_after) / (1 << 20),
              idle.empty() ? 0.0
                           : static_cast<double>(rss_after - rss_before)
                               / 1024.0 / static_cast<double>(idle.size()));
  std::vector<run_result> reads;
  std::vector<run_result> health;
  for (int r = 0; r < runs; ++r) {
    reads.push_back(load(port, clients, seconds,
                         [&](httplib::Client& cli, int, uint64_t) {
                           auto reply
                             = cli.Get("/api/crm/comms?limit=50", auth);
                           return reply && reply->status == 200;
                         }));
    health.push_back(load(port, clients, seconds,
                          [&](httplib::Client& cli, int, uint64_t) {
                            auto reply = cli.Get("/healthz");
                            return reply && reply->status == 200;
                          }));
  }
  print_median("comms?limit=50, 2,000 idle", reads, 20000);
  print_median("/healthz, 2,000 idle", health, 0);
  for (auto fd : idle)
    ::close(fd);
}

/// A CRM's sync and customer list: 1,000 more customers, and the entries
/// written before (all changed since 2020) paged by updated_at.
void sync_reads_case(const std::string& db_url, uint16_t port,
                     const httplib::Headers& auth, double seconds,
                     int clients) {
  std::vector<sb::customer> more;
  for (int i = 0; i < 1000; ++i) {
    sb::customer c;
    c.name = "Bench " + std::to_string(i);
    c.phone = "+4477009" + std::to_string(10000 + i);
    c.phone_e164 = c.phone;
    more.push_back(std::move(c));
  }
  if (auto db = sb::store::database::open(db_url))
    (void) (*db)->add_customers(std::move(more));
  struct read_case {
    const char* label;
    const char* path;
  };
  for (auto rc : {read_case{"GET customers?limit=50",
                            "/api/crm/customers?limit=50"},
                  read_case{"GET comms?updated_since",
                            "/api/crm/comms?updated_since="
                            "2020-01-01T00:00:00Z&limit=50"}}) {
    std::vector<run_result> rs;
    rs.reserve(runs);
    for (int r = 0; r < runs; ++r)
      rs.push_back(load(port, clients, seconds,
                        [&](httplib::Client& cli, int, uint64_t) {
                          auto reply = cli.Get(rc.path, auth);
                          return reply && reply->status == 200;
                        }));
    print_median(rc.label, rs, 20000);
  }
}

} // namespace

SB_BENCH("http") {
  namespace fs = std::filesystem;
  sb::test::scratch_dir scratch{"sb-bench-http"};
  const fs::path& dir = scratch.path();
  auto seconds = run_seconds();
  unsigned server_threads = 8;
  int clients = 8;
  {
    bench_config sys_cfg;
    caf::actor_system sys{sys_cfg};
    sb::app_config cfg;
    cfg.db.url = "sqlite:" + (dir / "bench.db").string();
    cfg.db.spool_path = (dir / "bench.spool").string();
    cfg.http.listen = "127.0.0.1:0";
    cfg.http.token = token;
    cfg.http.threads = server_threads;
    auto writer = sys.spawn<caf::detached>(sb::comms_log_writer, cfg.db);
    auto matcher
        = sys.spawn(sb::customer_matcher, cfg.phone, cfg.db.url, writer);
    sb::customer first;
    first.name = "Bench Customer";
    first.phone = "+442079460123";
    first.phone_e164 = "+442079460123";
    int64_t customer_id = 0;
    {
      caf::scoped_actor self{sys};
      self->request(writer, std::chrono::seconds(10), sb::customer_atom_v,
                    first)
          .receive([&](sb::customer& c) { customer_id = c.id; },
                   [&](caf::error& err) {
                     std::printf("  writer: %s\n", to_string(err).c_str());
                   });
    }
    if (customer_id == 0) {
      caf::anon_send_exit(matcher, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
      return;
    }
    sb::http_deps deps{sys, cfg};
    deps.writer = writer;
    deps.matcher = matcher;
    // The idle-connection case keeps 2,000 connections open across its runs.
    auto limits = sb::limits_of(cfg);
    limits.idle_timeout = std::chrono::minutes(2);
    limits.max_connections_per_client = limits.max_connections;
    deps.limits = limits;
    sb::http_server admin{std::move(deps)};
    auto port = admin.start();
    if (!port) {
      std::printf("  cannot listen: %s\n", to_string(port.error()).c_str());
      return;
    }
    std::printf("  %d keep-alive clients, %u server threads, %.1f s per run,"
                " SQLite (WAL) in %s\n",
                clients, server_threads, seconds, dir.c_str());
    httplib::Headers auth{{"Authorization", "Bearer " + token}};
    auto id = std::to_string(customer_id);

    std::vector<run_result> writes;
    for (int r = 0; r < runs; ++r) {
      auto res = load(
          *port, clients, seconds,
          [&](httplib::Client& cli, int c, uint64_t i) {
            auto headers = auth;
            headers.emplace("Idempotency-Key", "bench-" + std::to_string(r)
                                                   + "-" + std::to_string(c)
                                                   + "-" + std::to_string(i));
            auto reply = cli.Post(
                "/api/crm/calls/log", headers,
                R"({"customer_id":)" + id
                    + R"(,"direction":"inbound","duration_seconds":)"
                    + std::to_string(i % 600) + R"(,"notes":"bench call"})",
                "application/json");
            return reply && reply->status == 201;
          });
      print_run("POST /api/crm/calls/log", r + 1, res);
      writes.push_back(res);
    }
    print_median("POST /api/crm/calls/log", writes, 5000);

    std::vector<run_result> reads;
    for (int r = 0; r < runs; ++r) {
      auto res = load(*port, clients, seconds,
                      [&](httplib::Client& cli, int, uint64_t) {
                        auto reply = cli.Get("/api/crm/comms?limit=50", auth);
                        return reply && reply->status == 200;
                      });
      print_run("GET /api/crm/comms?limit=50", r + 1, res);
      reads.push_back(res);
    }
    print_median("GET /api/crm/comms?limit=50", reads, 20000);

    std::vector<run_result> small_reads;
    for (int r = 0; r < runs; ++r) {
      auto res = load(*port, clients, seconds,
                      [&](httplib::Client& cli, int, uint64_t) {
                        auto reply = cli.Get("/api/crm/comms?limit=1", auth);
                        return reply && reply->status == 200;
                      });
      small_reads.push_back(res);
    }
    print_median("GET /api/crm/comms?limit=1", small_reads, 20000);

    sync_reads_case(cfg.db.url, *port, auth, seconds, clients);

    std::vector<run_result> point_reads;
    auto customer_path = "/api/crm/customers/" + id;
    for (int r = 0; r < runs; ++r) {
      auto res = load(*port, clients, seconds,
                      [&](httplib::Client& cli, int, uint64_t) {
                        auto reply = cli.Get(customer_path.c_str(), auth);
                        return reply && reply->status == 200;
                      });
      point_reads.push_back(res);
    }
    print_median("GET /api/crm/customers/{id}", point_reads, 20000);

    std::vector<run_result> health;
    for (int r = 0; r < runs; ++r) {
      auto res = load(*port, clients, seconds,
                      [&](httplib::Client& cli, int, uint64_t) {
                        auto reply = cli.Get("/healthz");
                        return reply && reply->status == 200;
                      });
      health.push_back(res);
    }
    print_median("GET /healthz (HTTP floor)", health, 0);

    idle_connections_case(*port, auth, seconds, clients);

    admin.stop();
    caf::anon_send_exit(matcher, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
  }
}
