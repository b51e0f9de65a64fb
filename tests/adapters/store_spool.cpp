#include "tests/fixtures/store_support.hpp"

#include <fstream>
#include <iterator>

#include "adapters/store/spool.hpp"

using namespace sb;
using namespace sb::test;
using store::spool;

namespace {

std::unique_ptr<spool> open_spool(const std::string& path) {
  auto s = spool::open(path);
  if (!s)
    FAIL("cannot open spool " << path << ": " << caf::to_string(s.error()));
  return std::move(*s);
}

std::vector<matched_call> calls(int from, int to) {
  std::vector<matched_call> out;
  for (int i = from; i < to; ++i) {
    auto c = make_call("spool." + std::to_string(i), 1795299000 + i,
                       i % 2 == 0 ? caf::optional<int64_t>{i} : caf::none);
    c.call.notes = "note " + std::to_string(i);
    c.call.incomplete = i % 3 == 0;
    out.push_back(c);
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

} // namespace

TEST_CASE("the spool keeps records across reopening, in order, intact") {
  scratch_dir dir;
  auto path = dir.file("writer.spool");
  {
    auto s = open_spool(path);
    CHECK(s->depth() == 0);
    REQUIRE(s->append(calls(0, 5)));
    REQUIRE(s->append(calls(5, 8)));
    CHECK(s->depth() == 8);
  }
  auto s = open_spool(path);
  REQUIRE(s->depth() == 8);
  auto head = s->peek(3);
  REQUIRE(head);
  REQUIRE(head->size() == 3);
  auto expected = calls(0, 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK((*head)[i].call.ext_message_id == expected[i].call.ext_message_id);
    CHECK((*head)[i].call.notes == expected[i].call.notes);
    CHECK((*head)[i].call.incomplete == expected[i].call.incomplete);
    CHECK((*head)[i].call.direction == expected[i].call.direction);
    CHECK((*head)[i].call.started_at == expected[i].call.started_at);
    CHECK((*head)[i].customer_id == expected[i].customer_id);
    CHECK((*head)[i].external_e164 == expected[i].external_e164);
  }
  // Peeking again without consuming returns the same records.
  auto again = s->peek(2);
  REQUIRE(again);
  CHECK((*again)[0].call.ext_message_id == "spool.0");
  REQUIRE(s->consume(2));
  CHECK(s->depth() == 6);
  auto next = s->peek(100);
  REQUIRE(next);
  REQUIRE(next->size() == 6);
  CHECK(next->front().call.ext_message_id == "spool.2");
  CHECK(next->back().call.ext_message_id == "spool.7");
  CHECK_FALSE(s->consume(7)); // more than peeked
  REQUIRE(s->consume(6));
  CHECK(s->depth() == 0);
  // An emptied spool gives its disk space back.
  CHECK(fs::file_size(path) == 0);
  REQUIRE(s->append(calls(8, 9)));
  CHECK(s->depth() == 1);
  auto last = s->peek(5);
  REQUIRE(last);
  REQUIRE(last->size() == 1);
  CHECK(last->front().call.ext_message_id == "spool.8");
}

TEST_CASE("a record torn by a crash is cut off when the spool is opened") {
  scratch_dir dir;
  auto path = dir.file("torn.spool");
  {
    auto s = open_spool(path);
    REQUIRE(s->append(calls(0, 4)));
  }
  auto intact_size = fs::file_size(path);
  {
    // Half a record: a header that promises more bytes than follow.
    std::ofstream out{path, std::ios::binary | std::ios::app};
    const char torn[] = {0x40, 0x00, 0x00, 0x00, 0x11, 0x22, 0x33, 0x44, 'x'};
    out.write(torn, sizeof(torn));
  }
  REQUIRE(fs::file_size(path) > intact_size);
  auto s = open_spool(path);
  CHECK(s->depth() == 4);
  CHECK(fs::file_size(path) == intact_size);
  auto all = s->peek(10);
  REQUIRE(all);
  CHECK(all->size() == 4);
  // Appends continue at the record boundary.
  REQUIRE(s->append(calls(4, 5)));
  auto s2 = open_spool(path);
  CHECK(s2->depth() == 5);
}

TEST_CASE("a spool that cannot be created is an error, not a crash") {
  auto s = spool::open("/nonexistent-sb-dir/sub/writer.spool");
  REQUIRE_FALSE(s);
  CHECK(store::is_unavailable(s.error()));
}

TEST_CASE("a spool another build wrote is refused, never read as garbage") {
  scratch_dir dir;
  auto path = dir.file("old.spool");
  {
    auto s = open_spool(path);
    REQUIRE(s->append(calls(0, 3)));
  }
  auto bytes = read_file(path);
  REQUIRE(bytes.size() > 12);
  CHECK(bytes.compare(0, 8, "SBSPOOL1") == 0);
  auto refused_untouched = [&](const std::string& foreign) {
    write_file(path, foreign);
    auto refused = spool::open(path);
    REQUIRE_FALSE(refused);
    CHECK(sb::code_of(refused.error()) == sb::ec::invalid);
    // Nothing was cut or rewritten: the file stays for its own build.
    CHECK(read_file(path) == foreign);
  };
  SECTION("records of another shape") {
    // The fingerprint of the record format, as another build writes it.
    bytes[8] = static_cast<char>(bytes[8] ^ 0x5a);
    refused_untouched(bytes);
  }
  SECTION("a spool from before the header") {
    refused_untouched(bytes.substr(12));
  }
}

TEST_CASE("a first append torn inside the header leaves an empty spool") {
  scratch_dir dir;
  auto path = dir.file("torn-header.spool");
  write_file(path, std::string{"SBSPO"});
  auto s = open_spool(path);
  CHECK(s->depth() == 0);
  CHECK(fs::file_size(path) == 0);
  REQUIRE(s->append(calls(0, 2)));
  auto again = open_spool(path);
  CHECK(again->depth() == 2);
}
