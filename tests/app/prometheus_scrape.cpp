// A real Prometheus (Debian's `prometheus` package) scrapes the real
// `switchboard demo` over 127.0.0.1, and its HTTP API shows the target up, the
// per-actor series of every pipeline actor, and the calls flowing.

#include <catch2/catch.hpp>

#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "tests/fixtures/prometheus_scrape_support.hpp"

using namespace sb::scrape_test;

namespace {

const char* prometheus_bin = "/usr/bin/prometheus";

/// One element of an instant-query vector.
struct series {
  std::map<std::string, std::string> labels;
  double value = 0;
};

/// GET /api/v1/query; nullopt when Prometheus did not answer with a vector.
std::optional<std::vector<series>> instant_query(uint16_t port,
                                                 const std::string& expr) {
  auto reply = http_get(port, "/api/v1/query", {{"query", expr}});
  if (reply.status != 200)
    return std::nullopt;
  rapidjson::Document doc;
  doc.Parse(reply.body.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("data")
      || !doc["data"].IsObject() || !doc["data"].HasMember("result")
      || !doc["data"]["result"].IsArray())
    return std::nullopt;
  std::vector<series> result;
  for (auto& item : doc["data"]["result"].GetArray()) {
    series s;
    for (auto& label : item["metric"].GetObject())
      s.labels[label.name.GetString()] = label.value.GetString();
    s.value = std::strtod(item["value"][1].GetString(), nullptr);
    result.push_back(std::move(s));
  }
  return result;
}

/// The `actor` label values of a query result.
std::set<std::string> actors_in(const std::vector<series>& xs) {
  std::set<std::string> names;
  for (auto& s : xs)
    if (s.labels.count("actor") != 0)
      names.insert(s.labels.at("actor"));
  return names;
}

bool covers_pipeline(const std::set<std::string>& names) {
  for (auto& actor : pipeline_actors())
    if (names.count(actor) == 0)
      return false;
  return true;
}

/// The active target of job "switchboard" as /api/v1/targets reports it.
struct target_state {
  std::string health;
  std::string scrape_url;
  std::string last_error;
};

std::optional<target_state> switchboard_target(uint16_t port) {
  auto reply = http_get(port, "/api/v1/targets", {{"state", "active"}});
  if (reply.status != 200)
    return std::nullopt;
  rapidjson::Document doc;
  doc.Parse(reply.body.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("data")
      || !doc["data"].HasMember("activeTargets"))
    return std::nullopt;
  for (auto& t : doc["data"]["activeTargets"].GetArray()) {
    if (!t.HasMember("labels") || !t["labels"].HasMember("job")
        || std::string{t["labels"]["job"].GetString()} != "switchboard")
      continue;
    target_state state;
    state.health = t["health"].GetString();
    state.scrape_url = t["scrapeUrl"].GetString();
    state.last_error = t["lastError"].GetString();
    return state;
  }
  return std::nullopt;
}

} // namespace

TEST_CASE("a real Prometheus scrapes switchboard demo: target up, per-actor "
          "series, calls flowing",
          "[metrics][prometheus][process]") {
  if (::access(prometheus_bin, X_OK) != 0) {
    WARN("SKIPPED: " << prometheus_bin
                     << " missing (apt-get install prometheus)");
    return;
  }
  scratch_dir dir{"sb-scrape"};

  auto started
      = start_switchboard(dir.path(), clean_environment(), [&](uint16_t) {
          return std::vector<std::string>{
              "demo", "--db.url=sqlite:" + (dir.path() / "demo.db").string()};
        });
  auto& server = *started.process;
  auto port = started.port;

  // Prometheus cannot say which port it bound to: pick a free one, and try
  // another if someone took it in between.
  std::ofstream{dir.path() / "prometheus.yml"}
      << "global:\n"
         "  scrape_interval: 1s\n"
         "  scrape_timeout: 1s\n"
         "scrape_configs:\n"
         "  - job_name: switchboard\n"
         "    static_configs:\n"
         "      - targets: ['127.0.0.1:"
      << port << "']\n";
  std::unique_ptr<child_process> prometheus;
  uint16_t prom_port = 0;
  for (int attempt = 1; attempt <= 3 && !prometheus; ++attempt) {
    prom_port = free_port();
    auto tsdb = dir.path() / ("tsdb-" + std::to_string(attempt));
    auto candidate = std::make_unique<child_process>(
        std::vector<std::string>{
            prometheus_bin,
            "--config.file=" + (dir.path() / "prometheus.yml").string(),
            "--storage.tsdb.path=" + tsdb.string(),
            "--web.listen-address=127.0.0.1:" + std::to_string(prom_port),
            "--log.level=warn"},
        clean_environment(), dir.path(),
        dir.path() / ("prometheus-" + std::to_string(attempt) + ".log"));
    wait_until(milliseconds{20000}, milliseconds{100}, [&] {
      return !candidate->running()
             || http_get(prom_port, "/-/ready").status == 200;
    });
    if (candidate->running())
      prometheus = std::move(candidate);
    else
      WARN("prometheus attempt " << attempt << " ended (" << candidate->ended()
                                 << "):\n"
                                 << log_tail(candidate->log()));
  }
  REQUIRE(prometheus);

  // The target is up.
  {
    std::optional<target_state> target;
    bool up = wait_until(milliseconds{20000}, milliseconds{200}, [&] {
      target = switchboard_target(prom_port);
      return target && target->health == "up";
    });
    if (!up)
      FAIL("target never up: "
           << (target ? target->health + " " + target->last_error
                      : std::string{"not listed"})
           << "\nprometheus log:\n"
           << log_tail(prometheus->log()));
    CHECK(target->scrape_url
          == "http://127.0.0.1:" + std::to_string(port) + "/metrics");
    CHECK(target->last_error.empty());
    auto up_series = instant_query(prom_port, "up{job=\"switchboard\"}");
    REQUIRE(up_series);
    REQUIRE(up_series->size() == 1);
    CHECK(up_series->front().value == 1);
    CHECK(up_series->front().labels["instance"]
          == "127.0.0.1:" + std::to_string(port));
  }

  // Per-actor series of every pipeline actor are stored.
  {
    std::optional<std::vector<series>> messages;
    bool stored = wait_until(milliseconds{20000}, milliseconds{200}, [&] {
      messages = instant_query(
          prom_port, "switchboard_actor_messages_total{job=\"switchboard\"}");
      return messages && covers_pipeline(actors_in(*messages));
    });
    INFO("prometheus log:\n" << log_tail(prometheus->log()));
    REQUIRE(stored);
    for (auto& s : *messages)
      CHECK(s.labels["instance"] == "127.0.0.1:" + std::to_string(port));

    // A histogram per actor: several buckets, +Inf among them.
    auto buckets = instant_query(
        prom_port,
        "count by (actor) (switchboard_actor_message_seconds_bucket{job="
        "\"switchboard\"})");
    REQUIRE(buckets);
    CHECK(covers_pipeline(actors_in(*buckets)));
    for (auto& s : *buckets) {
      INFO("actor " << s.labels["actor"]);
      CHECK(s.value >= 2);
    }
    auto inf = instant_query(
        prom_port, "switchboard_actor_message_seconds_bucket{le=\"+Inf\"}");
    REQUIRE(inf);
    CHECK(covers_pipeline(actors_in(*inf)));

    auto depth = instant_query(prom_port, "switchboard_actor_mailbox_depth");
    REQUIRE(depth);
    CHECK(covers_pipeline(actors_in(*depth)));
    for (auto& s : *depth)
      CHECK(s.value >= 0);
  }

  // The replayed calls show in the stored series.
  {
    // The demo delivers events at once and its first calls end within
    // seconds: Prometheus must see parser work and logged calls.
    std::optional<std::vector<series>> parsed, logged, events;
    bool flowing = wait_until(milliseconds{25000}, milliseconds{250}, [&] {
      parsed = instant_query(
          prom_port,
          "switchboard_actor_messages_total{actor=\"ami_parser\"} > 0");
      events = instant_query(
          prom_port, "sum(switchboard_ami_events_total{pbx=\"demo\"}) > 0");
      logged = instant_query(
          prom_port, "sum(switchboard_calls_logged_total{source=\"ami\"}) > 0");
      return parsed && events && logged && parsed->size() == 1
             && events->size() == 1 && logged->size() == 1;
    });
    if (!flowing)
      FAIL("no traffic in Prometheus\nswitchboard log:\n"
           << log_tail(server.log()) << "\nprometheus log:\n"
           << log_tail(prometheus->log()));
    CHECK(parsed->front().value > 0);
    CHECK(events->front().value > 0);
    CHECK(logged->front().value >= 1);
    CHECK(logged->front().value <= 50);
  }

  auto prom_end = prometheus->stop(milliseconds{10000});
  CHECK_FALSE(prom_end.killed);
  auto server_end = server.stop(milliseconds{15000});
  INFO("switchboard log:\n" << log_tail(server.log()));
  CHECK(server_end.exited);
  CHECK(server_end.code == 0);
  CHECK_FALSE(server_end.killed);
}
