// `switchboard import-customers FILE` against a real SQLite file.

#include <fstream>
#include <sstream>

#include "app/import_customers.hpp"
#include "tests/fixtures/http_fixture.hpp"

using namespace sb;
using namespace sb::test;

namespace {

std::string write_file(const scratch_dir& dir, const std::string& name,
                       const std::string& text) {
  auto path = (dir.path() / name).string();
  std::ofstream out{path, std::ios::binary};
  out << text;
  return path;
}

} // namespace

TEST_CASE("import-customers imports good rows and reports the others") {
  scratch_dir dir;
  auto url = "sqlite:" + (dir.path() / "crm.db").string();
  auto csv = write_file(dir, "customers.csv",
                        "name,phone\n"
                        "Alice,+44 20 7946 0123\n"
                        "Bob,020 7946 0124\n"
                        "Carol,anonymous\n"
                        ",020 7946 0125\n"
                        "Dave,0044 20 7946 0123\n"
                        "\"Eve, Jr.\",07700 900123\n"
                        "Frank\n");
  auto report = import_customers(csv, url, "GB");
  INFO((report ? std::string{} : describe(report.error())));
  REQUIRE(report);
  CHECK(report->imported == 3);
  REQUIRE(report->rejected.size() == 4);
  CHECK(report->rejected[0].line == 4);
  CHECK(report->rejected[0].reason.find("not a dialable number")
        != std::string::npos);
  CHECK(report->rejected[1].line == 5);
  CHECK(report->rejected[1].reason == "name is empty");
  CHECK(report->rejected[2].line == 6);
  CHECK(report->rejected[2].reason.find("earlier in the file")
        != std::string::npos);
  CHECK(report->rejected[3].line == 8);

  auto db = store::database::open(url);
  REQUIRE(db);
  auto alice = (*db)->find_customers_by_e164("+442079460123");
  REQUIRE(alice);
  REQUIRE(alice->size() == 1);
  CHECK(alice->front().name == "Alice");
  CHECK(alice->front().phone == "+44 20 7946 0123");
  auto eve = (*db)->find_customers_by_e164("+447700900123");
  REQUIRE(eve);
  REQUIRE(eve->size() == 1);
  CHECK(eve->front().name == "Eve, Jr.");

  // Importing the same file again adds nothing: every number is taken.
  auto again = import_customers(csv, url, "GB");
  REQUIRE(again);
  CHECK(again->imported == 0);
  CHECK(again->rejected.size() == 7);
  auto all = (*db)->all_customers();
  REQUIRE(all);
  CHECK(all->size() == 3);
}

TEST_CASE("import-customers CLI output and exit codes") {
  scratch_dir dir;
  app_config cfg;
  cfg.db.url = "sqlite:" + (dir.path() / "crm.db").string();
  cfg.phone.default_region = "GB";
  std::ostringstream out;
  std::ostringstream err;
  auto good
      = write_file(dir, "good.csv",
                   "phone,name\r\n+442079460200,Ann\r\n+442079460201,Ben\r\n");
  auto code = run_import_customers(cfg, good, out, err);
  INFO("stderr: " << err.str());
  CHECK(code == 0);
  CHECK(out.str() == "imported 2, rejected 0\n");
  CHECK(err.str().empty());

  out.str("");
  auto mixed
      = write_file(dir, "mixed.csv", "name,phone\nCid,12\nDee,+442079460202\n");
  CHECK(run_import_customers(cfg, mixed, out, err) == 2);
  CHECK(out.str().rfind("imported 1, rejected 1\nline 2: ", 0) == 0);

  out.str("");
  auto no_header = write_file(dir, "bad.csv", "Ann,+442079460203\n");
  CHECK(run_import_customers(cfg, no_header, out, err) == 1);
  CHECK(err.str().find("header") != std::string::npos);

  err.str("");
  CHECK(
      run_import_customers(cfg, (dir.path() / "missing.csv").string(), out, err)
      == 1);
  CHECK(err.str().find("cannot read") != std::string::npos);

  err.str("");
  app_config down = cfg;
  down.db.url = "sqlite:" + (dir.path() / "no" / "such" / "dir.db").string();
  CHECK(run_import_customers(down, good, out, err) == 1);
  CHECK_FALSE(err.str().empty());
}
