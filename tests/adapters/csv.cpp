// The customer CSV format of `switchboard import-customers`.

#include <catch2/catch.hpp>

#include <sstream>
#include <string>

#include <sys/resource.h>

#include "adapters/csv/customer_csv.hpp"

using namespace sb::csv;

TEST_CASE("customer CSV: header in any order and case, quoting, rejections") {
  auto csv = parse_customer_csv("\xEF\xBB\xBF"
                                "Phone, NAME ,extra\r\n"
                                "+44 20 7946 0123,Alice,x\r\n"
                                "\"020 7946 0124\",\"Smith, Bob\",y\n"
                                "\n"
                                "0207946,,z\n"
                                ",Carol\n"
                                "0207946,\"multi\nline\"\n"
                                "123\n"
                                "\"unterminated,Dave\n");
  REQUIRE(csv.error.empty());
  REQUIRE(csv.rows.size() == 3);
  CHECK(csv.rows[0].line == 2);
  CHECK(csv.rows[0].name == "Alice");
  CHECK(csv.rows[0].phone == "+44 20 7946 0123");
  CHECK(csv.rows[1].line == 3);
  CHECK(csv.rows[1].name == "Smith, Bob");
  CHECK(csv.rows[2].line == 7);
  CHECK(csv.rows[2].name == "multi\nline");
  REQUIRE(csv.rejected.size() == 4);
  CHECK(csv.rejected[0].line == 5);
  CHECK(csv.rejected[0].reason == "name is empty");
  CHECK(csv.rejected[1].line == 6);
  CHECK(csv.rejected[1].reason == "phone is empty");
  CHECK(csv.rejected[2].line == 9);
  CHECK(csv.rejected[2].reason.find("expected at least 2 fields")
        != std::string::npos);
  CHECK(csv.rejected[3].line == 10);
  CHECK(csv.rejected[3].reason == "a quoted field is never closed");
}

TEST_CASE("customer CSV: a file without the needed header is refused whole") {
  CHECK_FALSE(parse_customer_csv("").error.empty());
  CHECK_FALSE(parse_customer_csv("\n\n").error.empty());
  auto csv = parse_customer_csv("name,number\nAlice,123\n");
  CHECK(csv.error.find("'phone'") != std::string::npos);
  CHECK(csv.rows.empty());
  auto bad_utf8 = parse_customer_csv("name,phone\n\xff\xfe,0207946\n");
  REQUIRE(bad_utf8.rejected.size() == 1);
  CHECK(bad_utf8.rejected[0].reason.find("UTF-8") != std::string::npos);
}

TEST_CASE("customer CSV: overlong forms and surrogates are not UTF-8") {
  for (const char* bad :
       {"\xC0\xAF", "\xE0\x80\x80", "\xF0\x80\x80\x80", "\xED\xA0\x80",
        "\xED\xBF\xBF", "\xF4\x90\x80\x80", "\xC3", "\x80"}) {
    INFO(bad);
    auto csv = parse_customer_csv(std::string{"name,phone\nAl"} + bad
                                  + "ce,0207946\n");
    REQUIRE(csv.rejected.size() == 1);
    CHECK(csv.rejected[0].reason.find("UTF-8") != std::string::npos);
  }
  auto good
      = parse_customer_csv("name,phone\n"
                           "Z\xC3\xBC"
                           "rich \xE2\x82\xAC \xF0\x9F\x93\x9E,0207946\n");
  CHECK(good.rejected.empty());
  CHECK(good.rows.size() == 1);
}

namespace {

long max_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

} // namespace

TEST_CASE("customer CSV: a huge record is streamed, not stored") {
  // 16 MiB of commas is one record of 16 million empty fields; stored as
  // strings it took hundreds of MiB.
  std::string commas
      = "name,phone\n" + std::string(16u << 20, ',') + "\n" + "Alice,0207946\n";
  auto before = max_rss_kib();
  auto csv = parse_customer_csv(commas);
  auto growth_mib = (max_rss_kib() - before) / 1024;
  INFO("peak RSS growth " << growth_mib << " MiB");
  // The text is copied once into the stream; nothing near 16 million fields.
  CHECK(growth_mib < 64);
  REQUIRE(csv.rejected.size() == 1);
  CHECK(csv.rejected[0].line == 2);
  CHECK(csv.rejected[0].reason == "name is empty");
  REQUIRE(csv.rows.size() == 1);
  CHECK(csv.rows[0].line == 3);

  std::string long_name = "name,phone\n\"" + std::string(8u << 20, 'x')
                          + "\",0207946\nBob,0207947\n";
  auto cut = parse_customer_csv(long_name);
  REQUIRE(cut.rejected.size() == 1);
  CHECK(cut.rejected[0].reason == "name is longer than 512 bytes");
  REQUIRE(cut.rows.size() == 1);
  CHECK(cut.rows[0].name == "Bob");
}

TEST_CASE("customer CSV: the reader streams from any istream") {
  std::istringstream in{"\xEF\xBB\xBFname,phone\nAlice,0207946\n,x\n"};
  customer_csv_reader reader{in};
  REQUIRE(reader.read_header().empty());
  customer_csv_row row;
  customer_csv_rejection rejection;
  CHECK(reader.next(row, rejection) == customer_csv_reader::item::row);
  CHECK(row.name == "Alice");
  CHECK(reader.next(row, rejection) == customer_csv_reader::item::rejected);
  CHECK(rejection.line == 3);
  CHECK(reader.next(row, rejection) == customer_csv_reader::item::end);
}
