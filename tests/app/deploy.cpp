// The operator-facing files in deploy/ agree with the metrics the server
// emits and are accepted by the real tools (promtool).

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <rapidjson/document.h>

namespace fs = std::filesystem;

namespace {

const char* promtool = "/usr/bin/promtool";

std::string read_text(const std::string& path) {
  std::ifstream in{path};
  REQUIRE(in);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string deploy_file(const char* name) {
  return std::string{SB_SOURCE_DIR} + "/deploy/" + name;
}

/// Runs `command` (stdout+stderr captured); returns the exit status.
int run(const std::string& command, std::string& output) {
  auto out_path = fs::temp_directory_path()
                  / ("sb-deploy-test-" + std::to_string(::getpid()) + ".out");
  auto status = std::system((command + " > " + out_path.string() + " 2>&1").c_str());
  output = read_text(out_path.string());
  fs::remove(out_path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void replace_all(std::string& text, const std::string& from,
                 const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
}

/// Every PromQL expression of the dashboard's panels.
std::vector<std::string> dashboard_exprs() {
  auto text = read_text(deploy_file("grafana-dashboard.json"));
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.IsObject());
  REQUIRE(doc.HasMember("panels"));
  std::vector<std::string> exprs;
  for (const auto& panel : doc["panels"].GetArray()) {
    if (!panel.HasMember("targets"))
      continue;
    for (const auto& target : panel["targets"].GetArray())
      exprs.emplace_back(target["expr"].GetString());
  }
  return exprs;
}

} // namespace

TEST_CASE("the Grafana dashboard covers every metric of the contract") {
  auto exprs = dashboard_exprs();
  REQUIRE(exprs.size() >= 20);
  std::string all;
  for (const auto& e : exprs)
    all += e + "\n";
  for (const char* metric :
       {"switchboard_actor_messages_total", "switchboard_actor_message_seconds",
        "switchboard_actor_mailbox_depth", "switchboard_actor_restarts_total",
        "switchboard_ami_connection_state", "switchboard_ami_reconnects_total",
        "switchboard_ami_events_total", "switchboard_ami_frames_rejected_total",
        "switchboard_calls_live", "switchboard_calls_logged_total",
        "switchboard_calls_unmatched_total", "switchboard_db_write_seconds",
        "switchboard_db_batch_size", "switchboard_writer_pending",
        "switchboard_writer_spool_depth", "switchboard_ozonetel_requests_total",
        "switchboard_ozonetel_token_generations_total",
        "switchboard_http_requests_total", "switchboard_http_request_seconds",
        "process_cpu_seconds_total", "process_resident_memory_bytes"}) {
    INFO(metric);
    CHECK(all.find(metric) != std::string::npos);
  }
}

TEST_CASE("promtool accepts the scrape config, the alerts and the dashboard's "
          "queries") {
  if (::access(promtool, X_OK) != 0) {
    WARN("SKIPPED: /usr/bin/promtool missing (apt-get install prometheus)");
    return;
  }
  std::string output;
  // check config also loads and checks the rule file it names.
  auto status = run(std::string{promtool} + " check config "
                      + deploy_file("prometheus.yml"),
                    output);
  INFO(output);
  CHECK(status == 0);
  CHECK(output.find("switchboard-alerts.yml") != std::string::npos);

  // Dashboard queries as recording rules: promtool parses each expression.
  auto rules = fs::temp_directory_path()
               / ("sb-dashboard-rules-" + std::to_string(::getpid()) + ".yml");
  {
    std::ofstream out{rules};
    out << "groups:\n  - name: dashboard\n    rules:\n";
    int n = 0;
    for (auto expr : dashboard_exprs()) {
      replace_all(expr, "$__rate_interval", "5m");
      replace_all(expr, "$instance", ".*");
      out << "      - record: dashboard:query" << n++ << "\n"
          << "        expr: |\n          " << expr << "\n";
    }
  }
  status = run(std::string{promtool} + " check rules " + rules.string(),
               output);
  fs::remove(rules);
  INFO(output);
  CHECK(status == 0);
}
