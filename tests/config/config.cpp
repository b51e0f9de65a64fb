#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "config/config.hpp"
#include "tests/fixtures/temp_dir.hpp"

namespace fs = std::filesystem;

namespace {

/// argv / envp as load_config sees them.
struct invocation {
  std::vector<std::string> args{"switchboard"};
  std::vector<std::string> env;
  std::vector<std::string> positional;

  caf::expected<sb::app_config> load() {
    std::vector<const char*> argv;
    for (auto& a : args)
      argv.push_back(a.c_str());
    argv.push_back(nullptr);
    std::vector<const char*> envp;
    for (auto& e : env)
      envp.push_back(e.c_str());
    envp.push_back(nullptr);
    return sb::load_config(static_cast<int>(args.size()), argv.data(),
                           envp.data(), &positional);
  }

  /// The error text of a load that must fail.
  std::string error() {
    auto cfg = load();
    REQUIRE_FALSE(cfg);
    return sb::error_text(cfg.error());
  }
};

std::string parse_error(const std::string& text) {
  auto cfg = sb::parse_config_text(text);
  REQUIRE_FALSE(cfg);
  return sb::error_text(cfg.error());
}

const sb::pbx_config* find_pbx(const sb::app_config& cfg,
                               const std::string& name) {
  for (const auto& pbx : cfg.pbxes)
    if (pbx.name == name)
      return &pbx;
  return nullptr;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("no input gives the documented defaults and no PBX") {
  invocation run;
  auto cfg = run.load();
  REQUIRE(cfg);
  CHECK(cfg->db.url == "sqlite:switchboard.db");
  CHECK(cfg->http.listen == "127.0.0.1:8080");
  CHECK(cfg->http.token.empty());
  CHECK(cfg->phone.default_region == "GB");
  CHECK(cfg->log.level == "info");
  CHECK(cfg->pbxes.empty());
  CHECK_FALSE(cfg->ozonetel.enabled());
  CHECK(run.positional.empty());
  CHECK_FALSE(cfg->help_requested);
}

TEST_CASE("file < environment < command line") {
  sb::test::scratch_dir dir;
  auto path = dir.write("sb.ini", "[db]\n"
                                  "url = sqlite:from-file.db\n"
                                  "batch_size = 10\n"
                                  "[http]\n"
                                  "listen = 127.0.0.1:1111\n"
                                  "[pbx.main]\n"
                                  "host = file-host\n"
                                  "port = 5001\n"
                                  "username = file-user\n"
                                  "events = on\n");
  invocation run;
  run.args = {"switchboard", "--config", path};

  SECTION("file alone") {
    auto cfg = run.load();
    REQUIRE(cfg);
    CHECK(cfg->db.url == "sqlite:from-file.db");
    CHECK(cfg->db.batch_size == 10);
    CHECK(cfg->http.listen == "127.0.0.1:1111");
    REQUIRE(cfg->pbxes.size() == 1);
    CHECK(cfg->pbxes[0].name == "main");
    CHECK(cfg->pbxes[0].host == "file-host");
    CHECK(cfg->pbxes[0].port == 5001);
    CHECK(cfg->pbxes[0].events == "on");
    CHECK(cfg->config_file == path);
  }
  SECTION("environment over file") {
    run.env = {"SWITCHBOARD_DB_URL=sqlite:from-env.db",
               "SWITCHBOARD_PBX_MAIN_PORT=5002", "PATH=/usr/bin"};
    auto cfg = run.load();
    REQUIRE(cfg);
    CHECK(cfg->db.url == "sqlite:from-env.db");
    CHECK(cfg->db.batch_size == 10); // untouched keys keep the file's value
    REQUIRE(cfg->pbxes.size() == 1);
    CHECK(cfg->pbxes[0].port == 5002);
    CHECK(cfg->pbxes[0].host == "file-host");
  }
  SECTION("command line over environment, both flag forms") {
    run.env = {"SWITCHBOARD_DB_URL=sqlite:from-env.db",
               "SWITCHBOARD_PBX_MAIN_PORT=5002",
               "SWITCHBOARD_HTTP_LISTEN=127.0.0.1:2222"};
    run.args.insert(run.args.end(),
                    {"--db.url=sqlite:from-cli.db", "--pbx.main.port", "5003",
                     "--http.listen", "[::1]:3333"});
    auto cfg = run.load();
    REQUIRE(cfg);
    CHECK(cfg->db.url == "sqlite:from-cli.db");
    CHECK(cfg->http.listen == "[::1]:3333");
    CHECK(cfg->pbxes[0].port == 5003);
    CHECK(cfg->pbxes[0].username == "file-user");
  }
  SECTION("SWITCHBOARD_CONFIG names the file when --config is absent") {
    invocation by_env;
    by_env.env = {"SWITCHBOARD_CONFIG=" + path};
    auto cfg = by_env.load();
    REQUIRE(cfg);
    CHECK(cfg->db.url == "sqlite:from-file.db");
  }
}

TEST_CASE("AMI_* seed names configure the PBX named default") {
  invocation run;
  run.env = {"AMI_HOST=pbx.example.net", "AMI_PORT=5039",
             "AMI_USERNAME=switchboard", "AMI_PASSWORD=seed-secret"};
  SECTION("alone") {
    auto cfg = run.load();
    REQUIRE(cfg);
    REQUIRE(cfg->pbxes.size() == 1);
    const auto& pbx = cfg->pbxes[0];
    CHECK(pbx.name == "default");
    CHECK(pbx.host == "pbx.example.net");
    CHECK(pbx.port == 5039);
    CHECK(pbx.username == "switchboard");
    CHECK(pbx.secret == "seed-secret");
    CHECK(pbx.auth == sb::ami_auth::plain);
  }
  SECTION("over the file's [pbx.default], under SWITCHBOARD_PBX_DEFAULT_*") {
    sb::test::scratch_dir dir;
    auto path = dir.write("sb.ini", "[pbx.default]\nhost = file-host\n"
                                    "auth = md5\n");
    run.args = {"switchboard", "--config=" + path};
    run.env.push_back("SWITCHBOARD_PBX_DEFAULT_PORT=6000");
    auto cfg = run.load();
    REQUIRE(cfg);
    REQUIRE(cfg->pbxes.size() == 1);
    CHECK(cfg->pbxes[0].host == "pbx.example.net");
    CHECK(cfg->pbxes[0].port == 6000);
    CHECK(cfg->pbxes[0].auth == sb::ami_auth::md5);
  }
  SECTION("a bad AMI_PORT names the variable and the key") {
    run.env[1] = "AMI_PORT=fifty";
    auto text = run.error();
    CHECK(contains(text, "AMI_PORT"));
    CHECK(contains(text, "pbx.default.port"));
  }
}

TEST_CASE("several PBXes from file, environment and command line") {
  invocation run;
  run.env = {"SWITCHBOARD_PBX_BRANCH_OFFICE_HOST=10.0.0.2",
             "SWITCHBOARD_PBX_BRANCH_OFFICE_USERNAME=sb",
             "SWITCHBOARD_PBX_BRANCH_OFFICE_PING_INTERVAL_SECONDS=2.5",
             "SWITCHBOARD_PBX_BRANCH_OFFICE_INBOUND_CONTEXTS=from-pstn, "
             "from-did-direct",
             "SWITCHBOARD_CMAKE_ARGS=-DX=1"}; // not ours: ignored
  run.args = {"switchboard", "--pbx.hq.host=10.0.0.1", "--pbx.hq.username=sb",
              "--pbx.hq.trunks=PJSIP/trunk-,SIP/carrier",
              "--pbx.hq.auth=MD5"};
  auto cfg = run.load();
  REQUIRE(cfg);
  REQUIRE(cfg->pbxes.size() == 2);
  auto branch = find_pbx(*cfg, "branch_office");
  REQUIRE(branch != nullptr);
  CHECK(branch->host == "10.0.0.2");
  CHECK(branch->ping_interval_seconds == Approx(2.5));
  CHECK(branch->inbound_contexts
        == std::vector<std::string>{"from-pstn", "from-did-direct"});
  auto hq = find_pbx(*cfg, "hq");
  REQUIRE(hq != nullptr);
  CHECK(hq->trunks == std::vector<std::string>{"PJSIP/trunk-", "SIP/carrier"});
  CHECK(hq->auth == sb::ami_auth::md5);
  CHECK(hq->port == 5038);
}

TEST_CASE("secrets given as CLI flags are refused without echoing them") {
  struct flag_case {
    std::string flag;
    std::string key;
  };
  std::vector<flag_case> cases{
    {"--pbx.main.secret=hunter2-value", "pbx.main.secret"},
    {"--http.token=hunter2-value", "http.token"},
    {"--http.read_token=hunter2-value", "http.read_token"},
    {"--ozonetel.api_key=hunter2-value", "ozonetel.api_key"},
    {"--ozonetel.agent_password=hunter2-value", "ozonetel.agent_password"},
    {"--ozonetel.callback_token=hunter2-value", "ozonetel.callback_token"},
    {"--db.url=postgresql://sb:hunter2-value@db.local/crm", "db.url"},
    {"--db.url=postgresql://sb@db.local/crm?password=hunter2-value",
     "db.url"},
  };
  for (const auto& c : cases) {
    INFO(c.flag);
    invocation run;
    run.args = {"switchboard", "--pbx.main.host=h", "--pbx.main.username=u",
                c.flag};
    auto text = run.error();
    CHECK(contains(text, c.key));
    CHECK(contains(text, "environment"));
    CHECK(contains(text, "_file"));
    CHECK_FALSE(contains(text, "hunter2"));
  }
  SECTION("the space-separated form too") {
    invocation run;
    run.args = {"switchboard", "--http.token", "hunter2-value"};
    auto text = run.error();
    CHECK(contains(text, "http.token"));
    CHECK_FALSE(contains(text, "hunter2"));
  }
  SECTION("a database URL without a password is fine on the command line") {
    invocation run;
    run.args = {"switchboard", "--db.url=postgresql://sb@db.local:5432/crm"};
    auto cfg = run.load();
    REQUIRE(cfg);
    CHECK(cfg->db.url == "postgresql://sb@db.local:5432/crm");
  }
}

TEST_CASE("secrets from the environment and the file are accepted") {
  sb::test::scratch_dir dir;
  auto path = dir.write("sb.ini", "[ozonetel]\naccount = acme\n"
                                  "api_key = file-api-key\n");
  invocation run;
  run.args = {"switchboard", "--config", path};
  run.env = {"SWITCHBOARD_HTTP_TOKEN=env-token",
             "SWITCHBOARD_DB_URL=postgresql://sb:env-pass@db.local/crm",
             "SWITCHBOARD_PBX_MAIN_HOST=h", "SWITCHBOARD_PBX_MAIN_USERNAME=u",
             "SWITCHBOARD_PBX_MAIN_SECRET=env-secret"};
  auto cfg = run.load();
  REQUIRE(cfg);
  CHECK(cfg->http.token == "env-token");
  CHECK(cfg->db.url == "postgresql://sb:env-pass@db.local/crm");
  CHECK(cfg->pbxes.at(0).secret == "env-secret");
  CHECK(cfg->ozonetel.api_key == "file-api-key");
  CHECK(cfg->ozonetel.enabled());
}

TEST_CASE("<key>_file reads a secret from a file, trailing newline stripped") {
  sb::test::scratch_dir dir;
  auto ami = dir.write("ami.secret", "ami-from-file\n");
  auto token = dir.write("token", "token-from-file\r\n");
  auto key = dir.write("api.key", "key-from-file");
  auto dburl = dir.write("db.url", "postgresql://sb:pw-from-file@db/crm\n");
  auto ini = dir.write("sb.ini", "[ozonetel]\naccount = acme\napi_key_file = "
                                   + key + "\n");
  invocation run;
  run.args = {"switchboard", "--config", ini, "--http.token_file", token,
              "--db.url_file=" + dburl};
  run.env = {"SWITCHBOARD_PBX_MAIN_HOST=h", "SWITCHBOARD_PBX_MAIN_USERNAME=u",
             "SWITCHBOARD_PBX_MAIN_SECRET_FILE=" + ami};
  auto cfg = run.load();
  REQUIRE(cfg);
  CHECK(cfg->pbxes.at(0).secret == "ami-from-file");
  CHECK(cfg->http.token == "token-from-file");
  CHECK(cfg->ozonetel.api_key == "key-from-file");
  CHECK(cfg->db.url == "postgresql://sb:pw-from-file@db/crm");

  SECTION("a missing file names the key") {
    invocation bad;
    bad.args = {"switchboard", "--http.token_file=" + (dir.path() / "nope").string()};
    auto text = bad.error();
    CHECK(contains(text, "http.token_file"));
    CHECK(contains(text, "cannot read"));
  }
  SECTION("giving a secret and its _file in one source is refused") {
    invocation both;
    both.env = {"SWITCHBOARD_HTTP_TOKEN=direct-token",
                "SWITCHBOARD_HTTP_TOKEN_FILE=" + token};
    auto text = both.error();
    CHECK(contains(text, "http.token"));
    CHECK_FALSE(contains(text, "direct-token"));
    CHECK_FALSE(contains(text, "token-from-file"));
  }
  SECTION("non-secret keys have no _file form") {
    invocation plain;
    plain.args = {"switchboard", "--http.listen_file=" + token};
    CHECK(contains(plain.error(), "http.listen_file"));
  }
}

TEST_CASE("every kind of bad value stops start-up naming the key") {
  struct bad_case {
    std::string ini;
    std::string names;      // the key the message must name
    std::string also = {};  // and this (a line number, the value...)
  };
  std::vector<bad_case> cases{
    {"[pbx.a]\nhost = h\nusername = u\nport = abc\n", "pbx.a.port", "config:4"},
    {"[pbx.a]\nhost = h\nusername = u\nport = 70000\n", "pbx.a.port", "70000"},
    {"[pbx.a]\nhost = h\nusername = u\nport = 0\n", "pbx.a.port"},
    {"[pbx.a]\nhost = h\nusername = u\nport = -1\n", "pbx.a.port"},
    {"[pbx.a]\nhost = h\nusername = u\nauth = sha1\n", "pbx.a.auth", "sha1"},
    {"[pbx.a]\nhost = h\nusername = u\nping_timeout_seconds = -5\n",
     "pbx.a.ping_timeout_seconds", "negative"},
    {"[pbx.a]\nhost = h\nusername = u\nping_interval_seconds = soon\n",
     "pbx.a.ping_interval_seconds"},
    {"[pbx.a]\nhost = h\nusername = u\nmax_frame_bytes = 12\n",
     "pbx.a.max_frame_bytes"},
    {"[pbx.a]\nusername = u\nport = 5038\n", "pbx.a.host", "missing"},
    {"[pbx.a]\nhost = h\n", "pbx.a.username", "missing"},
    {"[pbx.a]\nhost = h\nusername = u\nhots = x\n", "pbx.a.hots", "config:4"},
    {"[pbx.a b]\nhost = h\n", "pbx.a b"},
    {"[db]\nurl = mysql://root@db/crm\n", "db.url", "mysql"},
    {"[db]\nurl = sqlite:\n", "db.url"},
    {"[db]\nbatch_size = 0\n", "db.batch_size"},
    {"[db]\nbatch_size = many\n", "db.batch_size"},
    {"[db]\n\n# comment\nfoo = 1\n", "db.foo", "config:4"},
    {"[http]\nlisten = 8080\n", "http.listen"},
    {"[http]\nlisten = 127.0.0.1:99999\n", "http.listen"},
    {"[http]\nrequest_timeout_seconds = -1\n", "http.request_timeout_seconds"},
    {"[http]\nthreads = 0\n", "http.threads"},
    {"[phone]\ndefault_region = Britain\n", "phone.default_region"},
    {"[tracker]\nstale_call_seconds = -300\n", "tracker.stale_call_seconds"},
    {"[log]\nlevel = verbose\n", "log.level", "verbose"},
    {"[ozonetel]\napi_base = ftp://ozonetel\n", "ozonetel.api_base", "ftp"},
    {"[ozonetel]\naccount = acme\n", "ozonetel.api_key", "missing"},
    {"[ozonetel]\nacw_timeout_seconds = -1\n", "ozonetel.acw_timeout_seconds"},
    {"[ozonetel]\ndisposition_map = NO_ANSWER\n", "ozonetel.disposition_map"},
    {"[database]\nurl = sqlite:x\n", "[database]", "config:1"},
    {"url = sqlite:x\n", "url", "section"},
    {"[db]\nthis line has no equals sign\n", "config:2"},
  };
  for (const auto& c : cases) {
    INFO(c.ini);
    auto text = parse_error(c.ini);
    INFO(text);
    CHECK(contains(text, c.names));
    if (!c.also.empty())
      CHECK(contains(text, c.also));
  }
}

TEST_CASE("command-line and environment mistakes are named too") {
  SECTION("unknown flag") {
    invocation run;
    run.args = {"switchboard", "--db.uri=sqlite:x"};
    CHECK(contains(run.error(), "db.uri"));
  }
  SECTION("flag without a value") {
    invocation run;
    run.args = {"switchboard", "--db.url"};
    CHECK(contains(run.error(), "--db.url"));
  }
  SECTION("PBX flag without a name") {
    invocation run;
    run.args = {"switchboard", "--pbx.host=h"};
    CHECK(contains(run.error(), "--pbx.<name>.host"));
  }
  SECTION("unknown single-dash option") {
    invocation run;
    run.args = {"switchboard", "-x"};
    CHECK(contains(run.error(), "-x"));
  }
  SECTION("unknown key in a known section of the environment") {
    invocation run;
    run.env = {"SWITCHBOARD_HTTP_LISTN=127.0.0.1:1"};
    CHECK(contains(run.error(), "http.listn"));
  }
  SECTION("unknown PBX key in the environment") {
    invocation run;
    run.env = {"SWITCHBOARD_PBX_MAIN_HOTS=h"};
    CHECK(contains(run.error(), "SWITCHBOARD_PBX_MAIN_HOTS"));
  }
  SECTION("bad value in the environment names variable and key") {
    invocation run;
    run.env = {"SWITCHBOARD_LOG_LEVEL=loud"};
    auto text = run.error();
    CHECK(contains(text, "SWITCHBOARD_LOG_LEVEL"));
    CHECK(contains(text, "log.level"));
  }
  SECTION("unreadable config file") {
    invocation run;
    run.args = {"switchboard", "--config", "/nonexistent/sb.ini"};
    CHECK(contains(run.error(), "/nonexistent/sb.ini"));
  }
  SECTION("file errors carry the file path and line") {
    sb::test::scratch_dir dir;
    auto path = dir.write("bad.ini", "[http]\nlisten = 127.0.0.1:8080\n"
                                     "threads = lots\n");
    invocation run;
    run.args = {"switchboard", "--config", path};
    auto text = run.error();
    CHECK(contains(text, path + ":3"));
    CHECK(contains(text, "http.threads"));
  }
}

TEST_CASE("errors never contain a secret value") {
  // Secrets in wrong places: a typo'd key, a bad URL, an unknown section.
  std::vector<std::string> inis{
    "[pbx.a]\nhost = h\nusername = u\nsecrte = hunter2-value\n",
    "[db]\nurl = mysql://root:hunter2-value@db/crm\n",
    "[http]\ntokn = hunter2-value\n",
    "[ozonetel]\napi-key = hunter2-value\n",
    "[secrets]\nhttp_token = hunter2-value\n",
    "[ozonetel]\nagent_password = hunter2-value\naccount = acme\n",
  };
  for (const auto& ini : inis) {
    INFO(ini);
    auto text = parse_error(ini);
    CHECK_FALSE(text.empty());
    CHECK_FALSE(contains(text, "hunter2"));
  }
  invocation run;
  run.env = {"SWITCHBOARD_DB_URL=oracle://root:hunter2-value@db/crm"};
  auto text = run.error();
  CHECK(contains(text, "db.url"));
  CHECK_FALSE(contains(text, "hunter2"));
}

TEST_CASE("describe() prints the effective config with secrets as ***") {
  invocation run;
  run.env = {"SWITCHBOARD_HTTP_TOKEN=tok-value-1",
             "SWITCHBOARD_HTTP_READ_TOKEN=tok-value-2",
             "SWITCHBOARD_DB_URL=postgresql://sb:pw-value-3@db:5432/crm"
             "?sslmode=require&password=pw-value-4",
             "AMI_HOST=pbx", "AMI_USERNAME=sb", "AMI_PASSWORD=ami-value-5",
             "SWITCHBOARD_OZONETEL_ACCOUNT=acme",
             "SWITCHBOARD_OZONETEL_API_KEY=key-value-6",
             "SWITCHBOARD_OZONETEL_AGENT_PASSWORD=agent-value-7",
             "SWITCHBOARD_OZONETEL_CALLBACK_TOKEN=cb-value-8"};
  auto cfg = run.load();
  REQUIRE(cfg);
  auto text = sb::describe(*cfg);
  INFO(text);
  CHECK_FALSE(contains(text, "-value-"));
  CHECK(contains(text, "token = ***"));
  CHECK(contains(text, "read_token = ***"));
  CHECK(contains(text, "secret = ***"));
  CHECK(contains(text, "api_key = ***"));
  CHECK(contains(text, "agent_password = ***"));
  CHECK(contains(text, "callback_token = ***"));
  CHECK(contains(text, "url = postgresql://sb:***@db:5432/crm"));
  CHECK(contains(text, "password=***"));
  CHECK(contains(text, "[pbx.default]"));
  CHECK(contains(text, "host = pbx"));
  CHECK(contains(text, "account = acme"));
}

TEST_CASE("describe() of a secret-free config reads back as the same config") {
  auto cfg = sb::parse_config_text(
    "[db]\nurl = sqlite:/var/lib/switchboard/sb.db\nbatch_size = 250\n"
    "[http]\nlisten = 0.0.0.0:9090\nrequest_timeout_seconds = 2.5\n"
    "[phone]\ndefault_region = IN\n"
    "[ozonetel]\ndisposition_map = NO_ANSWER=No Answer, "
    "APPOINTMENT_BOOKED=Appointment Booked\n"
    "[log]\nlevel = debug\n"
    "[pbx.hq]\nhost = 10.1.1.1\nusername = sb\ntrunks = PJSIP/trunk-\n"
    "internal_contexts =\n");
  REQUIRE(cfg);
  auto again = sb::parse_config_text(sb::describe(*cfg));
  REQUIRE(again);
  CHECK(sb::describe(*again) == sb::describe(*cfg));
  CHECK(again->db.batch_size == 250);
  CHECK(again->http.request_timeout_seconds == Approx(2.5));
  CHECK(again->ozonetel.disposition_map.at("NO_ANSWER") == "No Answer");
  REQUIRE(again->pbxes.size() == 1);
  CHECK(again->pbxes[0].internal_contexts.empty());
  CHECK(again->pbxes[0].trunks == std::vector<std::string>{"PJSIP/trunk-"});
}

TEST_CASE("the disposition map as pairs, as a section, and per flag") {
  auto cfg = sb::parse_config_text(
    "; comment\n"
    "[ozonetel]\n"
    "disposition_map = NO_ANSWER=No Answer, WRONG_NUMBER = Wrong Number\n"
    "[ozonetel.disposition_map]\n"
    "APPOINTMENT_BOOKED = Appointment Booked\n"
    "# a comment inside\n"
    "INFO_PROVIDED = \"Info Provided\"\n");
  REQUIRE(cfg);
  const auto& map = cfg->ozonetel.disposition_map;
  CHECK(map.size() == 4);
  CHECK(map.at("NO_ANSWER") == "No Answer");
  CHECK(map.at("WRONG_NUMBER") == "Wrong Number");
  CHECK(map.at("APPOINTMENT_BOOKED") == "Appointment Booked");
  CHECK(map.at("INFO_PROVIDED") == "Info Provided");

  invocation run;
  run.args = {"switchboard",
              "--ozonetel.disposition_map.CALLBACK_REQUESTED=Call Back"};
  run.env = {"SWITCHBOARD_OZONETEL_DISPOSITION_MAP=NOT_INTERESTED=Not "
             "Interested"};
  auto loaded = run.load();
  REQUIRE(loaded);
  CHECK(loaded->ozonetel.disposition_map.at("NOT_INTERESTED")
        == "Not Interested");
  CHECK(loaded->ozonetel.disposition_map.at("CALLBACK_REQUESTED")
        == "Call Back");
}

TEST_CASE("positional arguments are returned: sub-commands and their files") {
  invocation run;
  run.args = {"switchboard", "--log.level=debug", "import-customers",
              "customers.csv"};
  auto cfg = run.load();
  REQUIRE(cfg);
  CHECK(cfg->log.level == "debug");
  CHECK(run.positional
        == std::vector<std::string>{"import-customers", "customers.csv"});

  invocation demo;
  demo.args = {"switchboard", "demo", "--", "--not-a-flag"};
  REQUIRE(demo.load());
  CHECK(demo.positional == std::vector<std::string>{"demo", "--not-a-flag"});
}

TEST_CASE("--help is reported, and the help text lists every key") {
  invocation run;
  run.args = {"switchboard", "--db.url=mysql://x", "--help"};
  auto cfg = run.load();
  REQUIRE(cfg);
  CHECK(cfg->help_requested);
  auto help = sb::help_text();
  for (const char* needle :
       {"db.url", "SWITCHBOARD_DB_URL", "db.batch_size", "db.max_pending",
        "db.spool_path", "http.listen", "http.token", "SWITCHBOARD_HTTP_TOKEN_FILE",
        "http.read_token", "http.max_body_bytes", "http.request_timeout_seconds",
        "http.threads", "phone.default_region", "tracker.stale_call_seconds",
        "tracker.max_call_seconds", "ozonetel.api_base", "ozonetel.account",
        "ozonetel.api_key", "ozonetel.agent_id", "ozonetel.agent_password",
        "ozonetel.campaign", "ozonetel.did", "ozonetel.disposition_map",
        "ozonetel.default_disposition", "ozonetel.acw_timeout_seconds",
        "ozonetel.callback_token", "ozonetel.request_timeout_seconds",
        "ozonetel.pending_outbound_seconds", "log.level", "pbx.<name>.host",
        "pbx.<name>.port", "pbx.<name>.username", "pbx.<name>.secret",
        "SWITCHBOARD_PBX_<NAME>_SECRET_FILE", "pbx.<name>.auth",
        "pbx.<name>.events", "pbx.<name>.ping_interval_seconds",
        "pbx.<name>.ping_timeout_seconds", "pbx.<name>.login_timeout_seconds",
        "pbx.<name>.max_frame_bytes", "pbx.<name>.trunks",
        "pbx.<name>.inbound_contexts", "pbx.<name>.internal_contexts",
        "pbx.<name>.outbound_contexts", "AMI_HOST", "AMI_PASSWORD"}) {
    INFO(needle);
    CHECK(contains(help, needle));
  }
}

TEST_CASE("the committed example config parses and documents every key") {
  auto path = std::string{SB_SOURCE_DIR} + "/config/switchboard.example.ini";
  std::ifstream in{path};
  REQUIRE(in);
  std::ostringstream text;
  text << in.rdbuf();
  auto example = text.str();
  auto cfg = sb::parse_config_text(example);
  if (!cfg)
    FAIL(sb::error_text(cfg.error()));
  REQUIRE(cfg->pbxes.size() >= 1);
  CHECK(cfg->ozonetel.disposition_map.size() >= 7);

  // Every key named in --help appears in the example (set or commented).
  std::istringstream help{sb::help_text()};
  std::string line;
  std::string section;
  size_t keys = 0;
  while (std::getline(help, line)) {
    if (line.size() > 2 && line[0] == '[') {
      section = line.substr(1, line.find(']') - 1);
      continue;
    }
    if (line.rfind("  ", 0) != 0 || line.rfind("      ", 0) == 0)
      continue;
    auto dotted = line.substr(2, line.find_first_of(" *", 2) - 2);
    auto key = dotted.substr(dotted.rfind('.') + 1);
    INFO(dotted);
    CHECK((contains(example, "\n" + key + " =")
           || contains(example, "\n# " + key + " =")
           || contains(example, "\n#" + key + " =")
           || contains(example, "\n; " + key + " =")));
    ++keys;
  }
  CHECK(keys >= 40);
}

TEST_CASE("http.listen port 0 asks for a free port; other ports stay 1..65535") {
  auto any_port = sb::parse_config_text("[http]\nlisten = 127.0.0.1:0\n");
  REQUIRE(any_port);
  CHECK(any_port->http.listen == "127.0.0.1:0");
  CHECK_FALSE(sb::parse_config_text("[http]\nlisten = 127.0.0.1:65536\n"));
  CHECK_FALSE(sb::parse_config_text("[http]\nlisten = 127.0.0.1:\n"));
}

TEST_CASE("[ozonetel.agent.<id>] sections configure agents; their password "
          "is a secret; ozonetel.timezone takes offsets and IANA zones") {
  auto cfg = sb::parse_config_text("[ozonetel.agent.agent02]\n"
                                   "name = Priya\n"
                                   "extension = 7002\n"
                                   "[ozonetel.agent.agent03]\n"
                                   "name = Ravi\n"
                                   "[ozonetel]\n"
                                   "timezone = +05:30\n");
  if (!cfg)
    FAIL(sb::error_text(cfg.error()));
  REQUIRE(cfg->ozonetel.agents.size() == 2);
  CHECK(cfg->ozonetel.agents[0].id == "agent02");
  CHECK(cfg->ozonetel.agents[0].name == "Priya");
  CHECK(cfg->ozonetel.agents[0].extension == "7002");
  CHECK(cfg->ozonetel.agents[1].id == "agent03");
  CHECK(cfg->ozonetel.timezone == "+05:30");
  CHECK(sb::parse_config_text("[ozonetel]\ntimezone = Asia/Kolkata\n"));
  // Zones with daylight saving time come from the system's tzdata.
  auto dst = sb::parse_config_text("[ozonetel]\ntimezone = America/New_York\n");
  REQUIRE(dst);
  CHECK(dst->ozonetel.timezone == "America/New_York");
  auto nowhere = sb::parse_config_text("[ozonetel]\ntimezone = Nowhere/City\n");
  REQUIRE_FALSE(nowhere);
  CHECK(sb::error_text(nowhere.error()).find("Nowhere/City") != std::string::npos);
  CHECK_FALSE(sb::parse_config_text("[ozonetel]\ntimezone = ../../etc/passwd\n"));
  CHECK_FALSE(sb::parse_config_text("[ozonetel.agent.bad id]\nname = x\n"));
  CHECK_FALSE(
      sb::parse_config_text("[ozonetel.agent.a1]\nunknown_key = x\n"));
}
