// [webhook.<name>] sections: file, SWITCHBOARD_WEBHOOK_<NAME>_<KEY>, the
// command line, secret_file, and clear errors for what is missing or wrong.

#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "tests/fixtures/temp_dir.hpp"

namespace {

caf::expected<sb::app_config> load(const std::vector<std::string>& args,
                                   const std::vector<std::string>& env) {
  std::vector<const char*> argv{"switchboard"};
  for (const auto& a : args)
    argv.push_back(a.c_str());
  argv.push_back(nullptr);
  std::vector<const char*> envp;
  for (const auto& e : env)
    envp.push_back(e.c_str());
  envp.push_back(nullptr);
  return sb::load_config(static_cast<int>(argv.size() - 1), argv.data(),
                         envp.data());
}

std::string error_of(const caf::expected<sb::app_config>& cfg) {
  REQUIRE_FALSE(cfg);
  return sb::error_text(cfg.error());
}

const sb::webhook_config* hook(const sb::app_config& cfg,
                               const std::string& name) {
  for (const auto& w : cfg.webhooks)
    if (w.name == name)
      return &w;
  return nullptr;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("webhooks from the file, the environment and the command line") {
  auto cfg = sb::parse_config_text("[webhook.crm]\n"
                                   "url = https://crm.example.com/hooks/sb\n"
                                   "secret = s3cret\n"
                                   "events = call.ringing, call.logged\n"
                                   "timeout_seconds = 5\n"
                                   "max_attempts = 3\n");
  REQUIRE(cfg);
  REQUIRE(cfg->webhooks.size() == 1);
  const auto& w = cfg->webhooks[0];
  CHECK(w.name == "crm");
  CHECK(w.url == "https://crm.example.com/hooks/sb");
  CHECK(w.secret == "s3cret");
  CHECK(w.events == std::vector<std::string>{"call.ringing", "call.logged"});
  CHECK(w.timeout_seconds == Approx(5));
  CHECK(w.max_attempts == 3);

  auto env = load({"--webhook.crm.max_attempts=7"},
                  {"SWITCHBOARD_WEBHOOK_CRM_URL=http://127.0.0.1:9000/in",
                   "SWITCHBOARD_WEBHOOK_CRM_SECRET=abc",
                   "SWITCHBOARD_WEBHOOK_SALES_TEAM_URL=http://10.0.0.5/h",
                   "SWITCHBOARD_WEBHOOK_SALES_TEAM_SECRET=def",
                   "SWITCHBOARD_WEBHOOK_SALES_TEAM_TIMEOUT_SECONDS=2.5"});
  REQUIRE(env);
  REQUIRE(env->webhooks.size() == 2);
  auto crm = hook(*env, "crm");
  REQUIRE(crm != nullptr);
  CHECK(crm->url == "http://127.0.0.1:9000/in");
  CHECK(crm->max_attempts == 7);
  CHECK(crm->events.empty()); // every type
  auto sales = hook(*env, "sales_team");
  REQUIRE(sales != nullptr);
  CHECK(sales->timeout_seconds == Approx(2.5));
  CHECK(sales->secret == "def");
}

TEST_CASE("a webhook secret comes from a file too, never from the command "
          "line, and is masked in describe()") {
  sb::test::scratch_dir dir;
  auto path = dir.file("hook.secret");
  std::ofstream{path} << "from-file\n";
  auto cfg = load({"--webhook.crm.url=http://127.0.0.1:1/h"},
                  {"SWITCHBOARD_WEBHOOK_CRM_SECRET_FILE=" + path});
  REQUIRE(cfg);
  REQUIRE(cfg->webhooks.size() == 1);
  CHECK(cfg->webhooks[0].secret == "from-file");
  auto text = sb::describe(*cfg);
  CHECK(contains(text, "[webhook.crm]"));
  CHECK(contains(text, "secret = *** (masked webhook.crm.secret)"));
  CHECK_FALSE(contains(text, "from-file"));
  auto refused = error_of(load({"--webhook.crm.url=http://127.0.0.1:1/h",
                                "--webhook.crm.secret=cli-secret-xyz"},
                               {}));
  CHECK(contains(refused, "webhook.crm.secret"));
  CHECK_FALSE(contains(refused, "cli-secret-xyz"));
  CHECK(contains(sb::help_text(), "SWITCHBOARD_WEBHOOK_<NAME>_URL"));
}

TEST_CASE("webhook mistakes stop start-up naming the key") {
  CHECK(contains(error_of(sb::parse_config_text("[webhook.crm]\nsecret = x\n")),
                 "webhook.crm.url: missing"));
  CHECK(contains(error_of(sb::parse_config_text(
                     "[webhook.crm]\nurl = http://h/x\n")),
                 "webhook.crm.secret: missing"));
  CHECK(contains(error_of(sb::parse_config_text(
                     "[webhook.crm]\nurl = ftp://h/x\nsecret = x\n")),
                 "webhook.crm.url"));
  CHECK(contains(error_of(sb::parse_config_text("[webhook.crm]\nurl = "
                                                "http://h/x\nsecret = x\n"
                                                "events = Call Ringing\n")),
                 "not an event type"));
  CHECK(contains(error_of(sb::parse_config_text("[webhook.crm]\nurl = "
                                                "http://h/x\nsecret = x\n"
                                                "max_attempts = 0\n")),
                 "webhook.crm.max_attempts"));
  CHECK(contains(error_of(sb::parse_config_text("[webhook.crm]\ncolour = x\n")),
                 "unknown key"));
  CHECK(contains(error_of(sb::parse_config_text("[webhook.b@d]\n")),
                 "webhook name"));
  CHECK(contains(error_of(load({}, {"SWITCHBOARD_WEBHOOK_CRM_COLOUR=red"})),
                 "SWITCHBOARD_WEBHOOK_<NAME>_<KEY>"));
  CHECK(contains(error_of(load({"--webhook.url=http://h/x"}, {})),
                 "name the webhook"));
}
