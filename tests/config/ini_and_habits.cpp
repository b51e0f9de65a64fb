#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "config/config.hpp"

// The INI comment rule, the describe() round trip, AMI_HOST= and the region
// check: what operators write by habit.

namespace {

caf::expected<sb::app_config> load_env(std::vector<std::string> env) {
  std::vector<const char*> argv{"switchboard", nullptr};
  std::vector<const char*> envp;
  for (auto& e : env)
    envp.push_back(e.c_str());
  envp.push_back(nullptr);
  return sb::load_config(1, argv.data(), envp.data());
}

std::string parse_error(const std::string& text) {
  auto cfg = sb::parse_config_text(text);
  REQUIRE_FALSE(cfg);
  return sb::error_text(cfg.error());
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("a # or ; after whitespace starts an inline comment") {
  auto cfg = sb::parse_config_text(
      "[db] # the database\n"
      "url = sqlite:x.db # trailing comment\n"
      "spool_path = /var/spool/sb.spool\t; tab then semicolon\n"
      "[ozonetel]\n"
      "campaign = Sales#2 ;not part of it\n"
      "did = \"080 # 1234\"  # quoted, so the first # is kept\n"
      "agent_id = \"a \\\"quoted\\\" name\"\n");
  REQUIRE(cfg);
  CHECK(cfg->db.url == "sqlite:x.db");
  CHECK(cfg->db.spool_path == "/var/spool/sb.spool");
  CHECK(cfg->ozonetel.campaign == "Sales#2");
  CHECK(cfg->ozonetel.did == "080 # 1234");
  CHECK(cfg->ozonetel.agent_id == "a \"quoted\" name");
}

TEST_CASE("a value that is only a comment is empty") {
  auto cfg = sb::parse_config_text("[pbx.hq]\nhost = h\nusername = u\n"
                                   "trunks = # none\n");
  REQUIRE(cfg);
  REQUIRE(cfg->pbxes.size() == 1);
  CHECK(cfg->pbxes[0].trunks.empty());
}

TEST_CASE("a broken quoted value is refused with its line and key") {
  auto unclosed = parse_error("[ozonetel]\ndid = \"080 # 1\n");
  CHECK(contains(unclosed, "config:2: did: unclosed quote"));
  auto trailing = parse_error("[ozonetel]\ndid = \"080\" 1234\n");
  CHECK(contains(trailing, "config:2: did: text after the closing quote"));
  auto header = parse_error("[db] url = x\n");
  CHECK(contains(header, "config:1: a section header must end with ']'"));
}

TEST_CASE("describe() with secrets, quotes and commas loads back as valid "
          "INI") {
  auto cfg = load_env(
      {"SWITCHBOARD_HTTP_TOKEN=tok-value-1",
       "SWITCHBOARD_HTTP_READ_TOKEN=tok-value-2",
       "SWITCHBOARD_DB_URL=postgresql://sb:pw-value-3@db:5432/crm",
       "SWITCHBOARD_DB_SPOOL_PATH=/tmp/a #b.spool", "AMI_HOST=pbx",
       "AMI_USERNAME=sb", "AMI_PASSWORD=ami-value-5",
       "SWITCHBOARD_OZONETEL_ACCOUNT=acme",
       "SWITCHBOARD_OZONETEL_API_KEY=key-value-6",
       "SWITCHBOARD_OZONETEL_CAMPAIGN= padded ",
       "SWITCHBOARD_OZONETEL_DISPOSITION_MAP=NO_ANSWER=No Answer; call back"});
  REQUIRE(cfg);
  auto text = sb::describe(*cfg);
  INFO(text);
  CHECK_FALSE(contains(text, "-value-"));
  auto again = sb::parse_config_text(text);
  INFO((again ? std::string{} : sb::error_text(again.error())));
  REQUIRE(again);
  CHECK(again->db.spool_path == "/tmp/a #b.spool");
  CHECK(again->ozonetel.campaign == " padded ");
  CHECK(again->ozonetel.disposition_map.at("NO_ANSWER")
        == "No Answer; call back");
  CHECK(again->http.token != again->http.read_token);
  CHECK(sb::describe(*again) == text);
}

TEST_CASE("an empty AMI_HOST means no AMI connection, with a note") {
  auto cfg = load_env({"AMI_HOST=", "AMI_PORT=5038", "AMI_USERNAME=sb",
                       "AMI_PASSWORD=ami-secret"});
  REQUIRE(cfg);
  CHECK(cfg->pbxes.empty());
  REQUIRE(cfg->notes.size() == 1);
  CHECK(contains(cfg->notes[0], "AMI_HOST is empty: no AMI connection"));
  CHECK_FALSE(contains(cfg->notes[0], "ami-secret"));
}

TEST_CASE("AMI_* without AMI_HOST refine a PBX the file defines") {
  auto none = load_env({"AMI_USERNAME=sb"});
  REQUIRE(none);
  CHECK(none->pbxes.empty());
  auto set = load_env({"AMI_HOST=pbx.example", "AMI_USERNAME=sb"});
  REQUIRE(set);
  REQUIRE(set->pbxes.size() == 1);
  CHECK(set->pbxes[0].host == "pbx.example");
  CHECK(set->notes.empty());
}

TEST_CASE("phone.default_region must be a region libphonenumber supports") {
  auto zz = parse_error("[phone]\ndefault_region = ZZ\n");
  CHECK(contains(zz, "phone.default_region"));
  CHECK(contains(zz, "'ZZ'"));
  auto xq = parse_error("[phone]\ndefault_region = XQ\n");
  CHECK(contains(xq, "phone.default_region"));
  for (const char* region : {"GB", "IN", "us"}) {
    auto cfg = sb::parse_config_text(std::string{"[phone]\ndefault_region = "}
                                     + region + "\n");
    INFO(region);
    CHECK(cfg);
  }
}
