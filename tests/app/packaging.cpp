// What packagers and integrators trip on: the image's libraries against the
// binary, its numeric user and health check, the compose stack, the unit,
// and the one manager.conf block the docs share.

#include <catch2/catch.hpp>

#include <cstdio>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fixtures/prometheus_scrape_support.hpp"

using namespace sb::scrape_test;

namespace {

fs::path source(const std::string& relative) {
  return fs::path{SB_SOURCE_DIR} / relative;
}

/// Runs `command` through sh; returns its exit status and stdout.
int shell(const std::string& command, std::string& output) {
  output.clear();
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0)
    output.append(buffer, n);
  int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::vector<std::string> words(const std::string& text) {
  std::istringstream in{text};
  std::vector<std::string> out;
  for (std::string w; in >> w;)
    out.push_back(w);
  return out;
}

/// The packages the runtime stage installs (second `apt-get install`).
std::vector<std::string> runtime_packages() {
  auto text = read_text(source("deploy/Containerfile"));
  auto stage = text.find("FROM docker.io/library/debian:12-slim");
  REQUIRE(stage != std::string::npos);
  auto install = text.find("--no-install-recommends", stage);
  auto end = text.find("&& rm -rf", install);
  REQUIRE(install != std::string::npos);
  std::vector<std::string> packages;
  for (auto& w : words(text.substr(install, end - install)))
    if (w != "--no-install-recommends" && w != "\\")
      packages.push_back(w);
  return packages;
}

/// The fenced ini block after the canonical-block marker of a Markdown file.
std::string markdown_block(const std::string& relative) {
  auto text = read_text(source(relative));
  auto marker = text.find("<!-- canonical manager.conf block");
  REQUIRE(marker != std::string::npos);
  auto open = text.find("```ini\n", marker);
  auto close = text.find("```", open + 7);
  REQUIRE(open != std::string::npos);
  std::string block;
  std::istringstream in{text.substr(open + 7, close - open - 7)};
  for (std::string line; std::getline(in, line);)
    if (line.rfind(';', 0) != 0) // the file-name comment
      block += line + "\n";
  return block;
}

std::string example_ini_block() {
  auto text = read_text(source("config/switchboard.example.ini"));
  auto start = text.find("# -- manager.conf (canonical)\n");
  auto end = text.find("# -- end manager.conf", start);
  REQUIRE(start != std::string::npos);
  REQUIRE(end != std::string::npos);
  std::string block;
  std::istringstream in{text.substr(start, end - start)};
  std::string line;
  std::getline(in, line); // the marker
  while (std::getline(in, line))
    block += (line == "#" ? std::string{} : line.substr(2)) + "\n";
  return block;
}

} // namespace

TEST_CASE("the image installs exactly the libraries the binary links") {
  std::string needed_text;
  REQUIRE(shell("readelf -d " SB_SWITCHBOARD_BIN
                " | sed -n 's/.*Shared library: \\[\\(.*\\)\\]/\\1/p'",
                needed_text)
          == 0);
  std::set<std::string> needed;
  for (auto& so : words(needed_text))
    needed.insert(so);
  REQUIRE_FALSE(needed.empty());
  // The C and C++ runtimes are in every Debian image.
  for (auto base : {"libc.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libm.so.6"})
    needed.erase(base);
  std::set<std::string> provided;
  for (auto& package : runtime_packages()) {
    if (package == "ca-certificates" || package == "tzdata")
      continue; // data (the HTTPS client's roots, time zones), not libraries
    std::string files;
    INFO("package " << package);
    REQUIRE(shell("dpkg -L " + package + " 2>/dev/null", files) == 0);
    bool links = false;
    for (auto& path : words(files)) {
      auto name = fs::path{path}.filename().string();
      if (needed.count(name) > 0) {
        provided.insert(name);
        links = true;
      }
    }
    CHECK(links); // e.g. libcaf-io0.17: installed but never linked
  }
  for (auto& so : needed) {
    INFO("linked but not installed: " << so);
    CHECK(provided.count(so) == 1);
  }
}

TEST_CASE("the image runs as a numeric user") {
  auto text = read_text(source("deploy/Containerfile"));
  CHECK(text.find("\nUSER 10001:10001\n") != std::string::npos);
  CHECK(text.find("--uid 10001") != std::string::npos);
  CHECK(text.find("--format docker") != std::string::npos);
}

TEST_CASE("the image's health check asks the port of SWITCHBOARD_HTTP_LISTEN") {
  auto text = read_text(source("deploy/Containerfile"));
  auto cmd = text.find("CMD [\"bash\", \"-c\", \"", text.find("HEALTHCHECK"));
  REQUIRE(cmd != std::string::npos);
  auto start = cmd + std::string{"CMD [\"bash\", \"-c\", \""}.size();
  auto end = text.find("\"]\n", start);
  // JSON string escapes as Docker reads them.
  std::string script;
  for (size_t i = start; i < end; ++i) {
    if (text[i] == '\\' && i + 1 < end) {
      ++i;
      script.push_back(text[i]);
    } else {
      script.push_back(text[i]);
    }
  }
  scratch_dir dir{"sb-health"};
  auto script_path = dir.write("healthcheck.sh", script);
  auto server = start_switchboard(dir.path(), clean_environment(), [](uint16_t) {
    return std::vector<std::string>{"--db.url=sqlite:h.db"};
  });
  std::string out;
  auto listen = "127.0.0.1:" + std::to_string(server.port);
  CHECK(shell("SWITCHBOARD_HTTP_LISTEN=" + listen + " bash " + script_path,
              out)
        == 0);
  CHECK(shell("SWITCHBOARD_HTTP_LISTEN=0.0.0.0:" + std::to_string(server.port)
                  + " bash " + script_path,
              out)
        == 0);
  CHECK(shell("SWITCHBOARD_HTTP_LISTEN=127.0.0.1:" + std::to_string(free_port())
                  + " bash " + script_path + " 2>/dev/null",
              out)
        != 0);
}

TEST_CASE("the compose file is YAML with the whole stack") {
  std::string out;
  auto check = R"(python3 -c '
import sys, yaml, os
doc = yaml.safe_load(open(sys.argv[1]))
services = doc["services"]
for name in ("switchboard", "postgres", "prometheus"):
    assert name in services, name
sb = services["switchboard"]
base = os.path.dirname(sys.argv[1])
assert os.path.exists(os.path.join(base, sb["build"]["context"], sb["build"]["dockerfile"]))
env = sb["environment"]
assert env["SWITCHBOARD_DB_URL"].startswith("postgresql://"), env
assert env["SWITCHBOARD_HTTP_LISTEN"] == "0.0.0.0:8080"
assert sb["depends_on"]["postgres"]["condition"] == "service_healthy"
assert "healthcheck" in services["postgres"]
for volume in services["prometheus"]["volumes"]:
    host = volume.split(":")[0]
    if host.startswith("."):
        assert os.path.exists(os.path.join(base, host)), host
print("ok")
' )" + source("deploy/compose.yaml").string();
  INFO(out);
  REQUIRE(shell(check + " 2>&1", out) == 0);
  CHECK(out == "ok\n");
  if (::access("/usr/bin/promtool", X_OK) == 0)
    CHECK(shell("/usr/bin/promtool check config "
                    + source("deploy/compose-prometheus.yml").string()
                    + " 2>&1",
                out)
          == 0);
}

TEST_CASE("the unit reloads with SIGHUP and waits for readiness") {
  auto unit = read_text(source("deploy/switchboard.service"));
  CHECK(unit.find("\nType=notify\n") != std::string::npos);
  CHECK(unit.find("\nExecReload=/bin/kill -HUP $MAINPID\n")
        != std::string::npos);
  CHECK(unit.find("\nUMask=0027\n") != std::string::npos);
}

TEST_CASE("README, troubleshooting and the example config share one "
          "manager.conf block") {
  auto readme = markdown_block("README.md");
  CHECK(readme.find("read = system,call,cdr\n") != std::string::npos);
  CHECK(markdown_block("docs/troubleshooting.md") == readme);
  CHECK(example_ini_block() == readme);
  CHECK(read_text(source("README.md")).find("Bearer demo")
        != std::string::npos);
}
