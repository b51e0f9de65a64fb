// The PBX's CDR database keys: the URL, its password (environment, file,
// never the command line, never printed), the catch-up span, the time zone
// and the recording URL template.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "config/config.hpp"
#include "tests/fixtures/temp_dir.hpp"

namespace {

caf::expected<sb::app_config> load(std::vector<std::string> args,
                                   std::vector<std::string> env) {
  args.insert(args.begin(), "switchboard");
  std::vector<const char*> argv;
  for (auto& a : args)
    argv.push_back(a.c_str());
  argv.push_back(nullptr);
  std::vector<const char*> envp;
  for (auto& e : env)
    envp.push_back(e.c_str());
  envp.push_back(nullptr);
  return sb::load_config(static_cast<int>(args.size()), argv.data(),
                         envp.data());
}

const std::vector<std::string> pbx_env{"SWITCHBOARD_PBX_MAIN_HOST=h",
                                       "SWITCHBOARD_PBX_MAIN_USERNAME=u"};

} // namespace

TEST_CASE("CDR keys: defaults, environment, file, command line") {
  auto plain = load({}, pbx_env);
  REQUIRE(plain);
  const auto& d = plain->pbxes.at(0);
  CHECK(d.cdr_url.empty());
  CHECK(d.cdr_catchup_hours == 24);
  CHECK(d.timezone == "UTC");
  CHECK(d.recording_url.empty());

  sb::test::scratch_dir dir;
  auto secret = dir.write("cdr-password", "from-file-pw\n");
  auto env = pbx_env;
  env.push_back("SWITCHBOARD_PBX_MAIN_CDR_URL=mysql://sb@pbx/asteriskcdrdb");
  env.push_back("SWITCHBOARD_PBX_MAIN_CDR_PASSWORD_FILE=" + secret);
  auto cfg = load({"--pbx.main.cdr_catchup_hours=6",
                   "--pbx.main.timezone=Asia/Kolkata",
                   "--pbx.main.recording_url=https://pbx/rec/{file}"},
                  env);
  REQUIRE(cfg);
  const auto& p = cfg->pbxes.at(0);
  CHECK(p.cdr_url == "mysql://sb@pbx/asteriskcdrdb");
  CHECK(p.cdr_password == "from-file-pw");
  CHECK(p.cdr_catchup_hours == 6);
  CHECK(p.timezone == "Asia/Kolkata");
  CHECK(p.recording_url == "https://pbx/rec/{file}");
  auto text = sb::describe(*cfg);
  CHECK(text.find("from-file-pw") == std::string::npos);

  auto by_env = pbx_env;
  by_env.push_back("SWITCHBOARD_PBX_MAIN_CDR_PASSWORD=env-pw");
  auto e = load({}, by_env);
  REQUIRE(e);
  CHECK(e->pbxes.at(0).cdr_password == "env-pw");
  CHECK(sb::describe(*e).find("env-pw") == std::string::npos);
}

TEST_CASE("CDR keys: bad values are refused, secrets never echoed") {
  auto cli_password = load({"--pbx.main.cdr_password=cli-pw"}, pbx_env);
  REQUIRE_FALSE(cli_password);
  auto why = sb::error_text(cli_password.error());
  CHECK(why.find("cli-pw") == std::string::npos);
  CHECK(why.find("pbx.main.cdr_password") != std::string::npos);

  auto url_password
      = load({"--pbx.main.cdr_url=mysql://sb:in-url-pw@pbx/asteriskcdrdb"},
             pbx_env);
  REQUIRE_FALSE(url_password);
  CHECK(sb::error_text(url_password.error()).find("in-url-pw")
        == std::string::npos);

  auto not_mysql = load({"--pbx.main.cdr_url=postgresql://x@y/z"}, pbx_env);
  REQUIRE_FALSE(not_mysql);
  CHECK(sb::error_text(not_mysql.error()).find("mysql://")
        != std::string::npos);
  CHECK_FALSE(load({"--pbx.main.cdr_catchup_hours=-1"}, pbx_env));
  CHECK_FALSE(load({"--pbx.main.timezone="}, pbx_env));
}
