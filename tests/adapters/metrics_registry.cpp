#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "adapters/metrics/registry.hpp"
#include "tests/fixtures/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace sb::metrics;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

size_t occurrences(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (auto pos = text.find(part); pos != std::string::npos;
       pos = text.find(part, pos + part.size()))
    ++n;
  return n;
}

/// The value of the sample line that starts with `series` + ' '.
double sample(const std::string& page, const std::string& series) {
  std::istringstream in{page};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0)
      return std::stod(line.substr(series.size() + 1));
  FAIL("no sample " << series << " in:\n" << page);
  return 0;
}

} // namespace

TEST_CASE("counters, gauges and histograms hold their values") {
  registry reg;
  auto& calls = reg.get_counter("test_calls_total", "Calls.");
  calls.inc();
  calls.inc(2.5);
  calls.inc(-4); // a counter never goes down
  CHECK(calls.value() == Approx(3.5));

  auto& live = reg.get_gauge("test_live", "Live.");
  live.set(10);
  live.inc();
  live.dec(3);
  CHECK(live.value() == Approx(8));

  auto& latency
      = reg.get_histogram("test_latency_seconds", "Latency.", {}, {0.1, 1, 10});
  for (double x : {0.05, 0.1, 0.5, 1.0, 5.0, 50.0})
    latency.observe(x);
  CHECK(latency.count() == 6);
  CHECK(latency.sum() == Approx(56.65));
  // le semantics: a value equal to a bound falls in that bound's bucket.
  CHECK(latency.cumulative_counts() == std::vector<uint64_t>{2, 4, 5, 6});
  CHECK(latency.upper_bounds() == std::vector<double>{0.1, 1, 10});
}

TEST_CASE("series are found again by name and labels, in any label order") {
  registry reg;
  auto& a = reg.get_counter("test_events_total", "Events.",
                            {{"pbx", "main"}, {"event", "Hangup"}});
  auto& b = reg.get_counter("test_events_total", "Events.",
                            {{"event", "Hangup"}, {"pbx", "main"}});
  auto& c = reg.get_counter("test_events_total", "Events.",
                            {{"event", "Newchannel"}, {"pbx", "main"}});
  CHECK(&a == &b);
  CHECK(&a != &c);
  a.inc();
  b.inc();
  CHECK(a.value() == 2);

  // References stay valid however many series come after.
  for (int i = 0; i < 1000; ++i)
    reg.get_counter("test_events_total", "Events.",
                    {{"event", "E" + std::to_string(i)}, {"pbx", "main"}});
  CHECK(&reg.get_counter("test_events_total", "",
                         {{"pbx", "main"}, {"event", "Hangup"}})
        == &a);
  CHECK(a.value() == 2);
}

TEST_CASE("misuse is refused: kind clash, bad names, reserved labels") {
  registry reg;
  reg.get_counter("test_thing_total", "A thing.");
  CHECK_THROWS_AS(reg.get_gauge("test_thing_total", "A thing."),
                  std::logic_error);
  CHECK_THROWS_AS(reg.get_counter("bad name", "x"), std::invalid_argument);
  CHECK_THROWS_AS(reg.get_counter("test_x_total", "x", {{"1abc", "v"}}),
                  std::invalid_argument);
  CHECK_THROWS_AS(
      reg.get_counter("test_x_total", "x", {{"a", "1"}, {"a", "2"}}),
      std::invalid_argument);
  CHECK_THROWS_AS(reg.get_histogram("test_h_seconds", "x", {{"le", "1"}}),
                  std::invalid_argument);
}

TEST_CASE("render() writes the Prometheus text format 0.0.4") {
  registry reg;
  reg.get_counter("test_requests_total", "HTTP requests.",
                  {{"route", "/api/calls"}, {"status", "200"}})
      .inc(3);
  reg.get_counter("test_requests_total", "HTTP requests.",
                  {{"route", "/metrics"}, {"status", "200"}})
      .inc();
  reg.get_gauge("test_depth", "Depth with a \\ backslash\nand newline.").set(7);
  reg.get_gauge("test_odd_labels", "Odd label values.",
                {{"value", "quote\" backslash\\ newline\n end"}})
      .set(1);
  auto& h = reg.get_histogram("test_write_seconds", "Write latency.",
                              {{"db", "main"}}, {0.001, 0.01});
  h.observe(0.0005);
  h.observe(0.005);
  h.observe(0.5);
  reg.add_callback_gauge("test_pending", "Pending.", {{"queue", "writer"}},
                         [] { return 42.0; });

  auto page = reg.render();
  INFO(page);
  CHECK(occurrences(page, "# HELP test_requests_total ") == 1);
  CHECK(occurrences(page, "# TYPE test_requests_total counter") == 1);
  CHECK(contains(
      page, "test_requests_total{route=\"/api/calls\",status=\"200\"} 3\n"));
  CHECK(contains(page,
                 "test_requests_total{route=\"/metrics\",status=\"200\"} 1\n"));
  CHECK(contains(page, "# HELP test_depth Depth with a \\\\ backslash\\nand "
                       "newline.\n"));
  CHECK(contains(page, "# TYPE test_depth gauge\ntest_depth 7\n"));
  CHECK(contains(page, "test_odd_labels{value=\"quote\\\" backslash\\\\ "
                       "newline\\n end\"} 1\n"));
  CHECK(contains(page, "# TYPE test_write_seconds histogram\n"
                       "test_write_seconds_bucket{db=\"main\",le=\"0.001\"} 1\n"
                       "test_write_seconds_bucket{db=\"main\",le=\"0.01\"} 2\n"
                       "test_write_seconds_bucket{db=\"main\",le=\"+Inf\"} 3\n"
                       "test_write_seconds_sum{db=\"main\"} 0.5055\n"
                       "test_write_seconds_count{db=\"main\"} 3\n"));
  CHECK(contains(page, "test_pending{queue=\"writer\"} 42\n"));
  // HELP comes right before TYPE, and each family's samples follow it.
  CHECK(contains(page, "# HELP test_pending Pending.\n# TYPE test_pending "
                       "gauge\ntest_pending{"));
}

TEST_CASE("actor metrics and message_probe") {
  registry reg;
  auto& m = reg.actor("call_tracker");
  CHECK(&reg.actor("call_tracker") == &m);
  REQUIRE(m.messages_handled != nullptr);
  REQUIRE(m.message_seconds != nullptr);
  REQUIRE(m.mailbox_depth != nullptr);
  REQUIRE(m.restarts != nullptr);
  for (size_t depth : {5u, 3u, 0u}) {
    message_probe probe{m, depth};
    CHECK(m.mailbox_depth->value() == static_cast<double>(depth));
    // Some work inside the handler, so the recorded time is not zero.
    volatile double x = 0;
    for (int i = 0; i < 10000; ++i)
      x = x + i;
  }
  CHECK(m.messages_handled->value() == 3);
  CHECK(m.message_seconds->count() == 3);
  CHECK(m.message_seconds->sum() > 0);
  CHECK(m.message_seconds->sum() < 1);
  CHECK(m.mailbox_depth->value() == 0);
  m.restarts->inc();

  auto page = reg.render();
  CHECK(sample(page, "switchboard_actor_messages_total{actor=\"call_tracker\"}")
        == 3);
  CHECK(sample(page, "switchboard_actor_restarts_total{actor=\"call_tracker\"}")
        == 1);
  CHECK(sample(page, "switchboard_actor_message_seconds_count{actor=\"call_"
                     "tracker\"}")
        == 3);
  CHECK(sample(page, "switchboard_actor_message_seconds_bucket{actor=\"call_"
                     "tracker\",le=\"+Inf\"}")
        == 3);
  CHECK(sample(page, "switchboard_actor_mailbox_depth{actor=\"call_tracker\"}")
        == 0);
}

TEST_CASE("concurrent updates from several threads sum exactly") {
  registry reg;
  constexpr int threads = 4;
  constexpr int per_thread = 200000;
  std::atomic<bool> go{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      // Every thread looks the series up itself: creation races too.
      auto& total = reg.get_counter("test_hits_total", "Hits.");
      auto& mine = reg.get_counter("test_hits_by_thread_total", "Hits.",
                                   {{"thread", std::to_string(t)}});
      auto& level = reg.get_gauge("test_level", "Level.");
      auto& h = reg.get_histogram("test_obs_seconds", "Obs.", {}, {0.5, 1.5});
      auto& actor = reg.actor("worker");
      while (!go.load())
        std::this_thread::yield();
      for (int i = 0; i < per_thread; ++i) {
        total.inc();
        mine.inc(0.5);
        level.inc(2);
        level.dec();
        h.observe(i % 2 == 0 ? 1.0 : 2.0);
        if (i % 1000 == 0)
          message_probe probe{actor, static_cast<size_t>(i)};
      }
    });
  go = true;
  for (auto& w : workers)
    w.join();
  CHECK(reg.get_counter("test_hits_total", "").value()
        == double{threads} * per_thread);
  for (int t = 0; t < threads; ++t)
    CHECK(reg.get_counter("test_hits_by_thread_total", "",
                          {{"thread", std::to_string(t)}})
              .value()
          == per_thread * 0.5);
  CHECK(reg.get_gauge("test_level", "").value()
        == double{threads} * per_thread);
  auto& h = reg.get_histogram("test_obs_seconds", "");
  CHECK(h.count() == uint64_t{threads} * per_thread);
  CHECK(h.sum() == 1.5 * threads * per_thread);
  CHECK(h.cumulative_counts()
        == std::vector<uint64_t>{0, uint64_t{threads} * per_thread / 2,
                                 uint64_t{threads} * per_thread});
  CHECK(reg.actor("worker").messages_handled->value()
        == double{threads} * (per_thread / 1000));
}

TEST_CASE("process metrics are read from /proc") {
  registry reg;
  register_process_metrics(reg);
  register_process_metrics(reg); // twice is harmless
  auto page = reg.render();
  INFO(page);
  CHECK(occurrences(page, "# TYPE process_cpu_seconds_total counter") == 1);
  auto cpu = sample(page, "process_cpu_seconds_total");
  CHECK(cpu >= 0);
  CHECK(cpu < 1e6);
  CHECK(sample(page, "process_resident_memory_bytes") > 1e5);
  CHECK(sample(page, "process_virtual_memory_bytes")
        >= sample(page, "process_resident_memory_bytes"));
  auto now = static_cast<double>(std::time(nullptr));
  auto start = sample(page, "process_start_time_seconds");
  CHECK(start <= now + 2);
  CHECK(start > now - 24 * 3600);
  auto fds = sample(page, "process_open_fds");
  CHECK(fds >= 3);
  CHECK(sample(page, "process_max_fds") >= fds);

  SECTION("open fds follow reality") {
    std::vector<FILE*> files;
    for (int i = 0; i < 5; ++i)
      files.push_back(std::fopen("/proc/self/stat", "r"));
    CHECK(sample(reg.render(), "process_open_fds") == fds + 5);
    for (auto f : files)
      std::fclose(f);
  }
}

TEST_CASE("the global registry carries the process metrics") {
  auto page = global().render();
  CHECK(contains(page, "process_resident_memory_bytes "));
  CHECK(&global() == &global());
}

TEST_CASE("promtool check metrics accepts a page after simulated traffic") {
  const char* promtool = "/usr/bin/promtool";
  if (::access(promtool, X_OK) != 0) {
    WARN("SKIPPED: /usr/bin/promtool missing (apt-get install prometheus)");
    return;
  }
  registry reg;
  register_process_metrics(reg);
  // Simulated traffic through every kind of metric the server emits.
  for (const char* name :
       {"ami_connection", "ami_parser", "call_tracker", "customer_matcher",
        "comms_log_writer", "ozonetel_session", "ucid_calls", "http_server",
        "ami_supervisor"}) {
    auto& m = reg.actor(name);
    for (size_t i = 0; i < 50; ++i)
      message_probe probe{m, i % 7};
  }
  reg.actor("ami_connection").restarts->inc();
  for (const char* state : {"connecting", "logged_in", "backing_off"})
    reg.get_gauge("switchboard_ami_connection_state",
                  "1 for the connection's current state.",
                  {{"pbx", "main"}, {"state", state}})
        .set(std::string{state} == "logged_in" ? 1 : 0);
  reg.get_counter("switchboard_ami_reconnects_total", "AMI reconnects.",
                  {{"pbx", "main"}})
      .inc(2);
  for (const char* event : {"Newchannel", "Hangup", "Cdr", "DialBegin"})
    reg.get_counter("switchboard_ami_events_total", "AMI events by name.",
                    {{"pbx", "main"}, {"event", event}})
        .inc(17);
  reg.get_counter("switchboard_ami_frames_rejected_total", "Rejected frames.",
                  {{"pbx", "main"}, {"reason", "too_large"}})
      .inc();
  reg.get_gauge("switchboard_calls_live", "Live calls.", {{"source", "ami"}})
      .set(3);
  reg.get_counter("switchboard_calls_logged_total", "Calls logged.",
                  {{"source", "ami"},
                   {"direction", "inbound"},
                   {"disposition", "answered"}})
      .inc(9);
  reg.get_counter("switchboard_calls_unmatched_total", "Unmatched calls.")
      .inc();
  auto& write
      = reg.get_histogram("switchboard_db_write_seconds", "DB write latency.");
  auto& batch
      = reg.get_histogram("switchboard_db_batch_size", "Records per DB batch.",
                          {}, {1, 10, 100, 1000});
  for (int i = 1; i <= 20; ++i) {
    write.observe(0.0001 * i);
    batch.observe(i * 37 % 1500);
  }
  reg.add_callback_gauge("switchboard_writer_pending", "Pending records.", {},
                         [] { return 12.0; });
  reg.get_gauge("switchboard_writer_spool_depth", "Spooled records.").set(0);
  reg.get_counter("switchboard_ozonetel_requests_total", "Ozonetel requests.",
                  {{"api", "dispose"}, {"outcome", "ok"}})
      .inc(4);
  reg.get_counter("switchboard_ozonetel_token_generations_total",
                  "Tokens generated.")
      .inc();
  reg.get_counter("switchboard_http_requests_total", "HTTP requests.",
                  {{"route", "/api/crm/comms"}, {"status", "200"}})
      .inc(5);
  reg.get_histogram("switchboard_http_request_seconds", "HTTP latency.",
                    {{"route", "/api/crm/comms"}})
      .observe(0.003);
  reg.get_gauge("test_weird_label_values", "Escaping under promtool.",
                {{"value", "a \"quoted\" \\ value\nwith newline"}})
      .set(1);

  auto page = reg.render();
  sb::test::scratch_dir dir{"sb-promtool"};
  auto page_path = dir.path() / "metrics.txt";
  auto out_path = dir.path() / "promtool.out";
  {
    std::ofstream out{page_path};
    out << page;
  }
  auto command = std::string{promtool} + " check metrics < "
                 + page_path.string() + " > " + out_path.string() + " 2>&1";
  auto status = std::system(command.c_str());
  std::ifstream result{out_path};
  std::string output{std::istreambuf_iterator<char>{result},
                     std::istreambuf_iterator<char>{}};
  INFO("promtool said:\n" << output);
  INFO("page:\n" << page);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(output.empty());
  CHECK(contains(page, "switchboard_actor_message_seconds_bucket{actor=\"ucid_"
                       "calls\",le=\"+Inf\"} 50"));
}
