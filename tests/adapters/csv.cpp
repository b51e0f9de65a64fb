// The customer CSV format of `switchboard import-customers`.

#include <catch2/catch.hpp>

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
