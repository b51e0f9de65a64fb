// The AMI wire codec on its own: splitter, parser, action writer, MD5 key.

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "adapters/ami/codec.hpp"
#include "tests/fixtures/ami_server.hpp"

using sb::ami_event;
using sb::ami::action_writer;
using sb::ami::frame_splitter;
using sb::ami::parse_frame;

namespace {

struct split_result {
  std::vector<std::string> banners;
  std::vector<std::string> frames;
  sb::ami::codec_errors errors;
  size_t buffered = 0;
};

/// Feeds `bytes` in chunks whose sizes `next_size` picks.
template <class NextSize>
split_result split(std::string_view bytes, NextSize next_size,
                   bool expect_banner = true, size_t limit = 64 * 1024) {
  split_result result;
  frame_splitter splitter{limit};
  splitter.expect_banner(expect_banner);
  size_t pos = 0;
  while (pos < bytes.size()) {
    auto n = std::min(next_size(), bytes.size() - pos);
    splitter.feed(
        bytes.substr(pos, n),
        [&](std::string_view line) { result.banners.emplace_back(line); },
        [&](std::string_view frame) { result.frames.emplace_back(frame); });
    pos += n;
  }
  result.errors = splitter.errors();
  result.buffered = splitter.buffered();
  return result;
}

split_result split_whole(std::string_view bytes, bool expect_banner = true,
                         size_t limit = 64 * 1024) {
  return split(
      bytes, [&] { return bytes.size(); }, expect_banner, limit);
}

size_t count_of(std::string_view text, std::string_view needle) {
  size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string_view::npos;
       pos = text.find(needle, pos + needle.size()))
    ++n;
  return n;
}

} // namespace

TEST_CASE("every capture splits into the same frames in any chunking",
          "[ami][codec]") {
  auto paths = sb::test::ami_capture_paths();
  REQUIRE(paths.size() >= 16);
  for (auto& path : paths) {
    INFO(path);
    auto bytes = sb::test::read_file(path);
    REQUIRE(!bytes.empty());
    auto whole = split_whole(bytes);
    REQUIRE(whole.banners
            == std::vector<std::string>{"Asterisk Call Manager/11.0.0"});
    // Every message ends with an empty line: one frame per "\r\n\r\n".
    CHECK(whole.frames.size() == count_of(bytes, "\r\n\r\n"));
    CHECK(whole.frames.front()
          == "Response: Success\r\n"
             "Message: Authentication accepted");
    CHECK(whole.errors.oversized_frames == 0);
    CHECK(whole.buffered == 0);
    size_t events = 0;
    for (auto& f : whole.frames) {
      ami_event ev;
      REQUIRE(parse_frame(f, ev));
      if (!ev.name().empty())
        ++events;
    }
    CHECK(events == count_of(bytes, "\r\nEvent: "));

    auto one = split(bytes, [] { return size_t{1}; });
    CHECK(one.banners == whole.banners);
    CHECK(one.frames == whole.frames);
    CHECK(one.buffered == 0);

    for (unsigned seed : {1u, 2u, 3u}) {
      std::mt19937 rng{seed};
      std::uniform_int_distribution<size_t> size{1, 3000};
      auto random = split(bytes, [&] { return size(rng); });
      CHECK(random.banners == whole.banners);
      CHECK(random.frames == whole.frames);
    }
    // Chunks that always cut inside the "\r\n\r\n" terminator.
    std::mt19937 rng{42};
    std::uniform_int_distribution<size_t> small{1, 7};
    auto tiny = split(bytes, [&] { return small(rng); });
    CHECK(tiny.frames == whole.frames);
  }
}

namespace {

/// A plain, obviously correct splitter to check the fast one against: lines
/// end at '\n'; an empty line ("" or "\r") ends a frame; the frame text runs
/// to its last line's line ending (one '\r' dropped).
std::vector<std::string> reference_frames(std::string_view bytes,
                                          size_t limit) {
  std::vector<std::string> frames;
  size_t frame = std::string_view::npos;
  size_t last_nl = 0;
  size_t line = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != '\n')
      continue;
    auto content = bytes.substr(line, i - line);
    if (content.empty() || content == "\r") {
      if (frame != std::string_view::npos) {
        size_t end = last_nl;
        if (end > frame && bytes[end - 1] == '\r')
          --end;
        if (last_nl + 1 - frame <= limit && end > frame)
          frames.emplace_back(bytes.substr(frame, end - frame));
        frame = std::string_view::npos;
      }
    } else if (frame == std::string_view::npos) {
      frame = line;
    }
    last_nl = i;
    line = i + 1;
  }
  return frames;
}

} // namespace

TEST_CASE("splitter matches a reference on random line-ending soup",
          "[ami][codec]") {
  const std::vector<std::string> tokens
      = {"Event: X", "Key: value", "\r\n",     "\r\n",
         "\n",       "\r",         "\r\n\r\n", "\n\n",
         "\n\r\n",   "a",          ":",        "Long: " + std::string(90, 'y')};
  std::mt19937 rng{2024};
  for (int round = 0; round < 300; ++round) {
    std::string bytes;
    auto count = 1 + rng() % 400;
    for (size_t t = 0; t < count; ++t)
      bytes += tokens[rng() % tokens.size()];
    size_t limit = round % 3 == 0 ? 200 : 64 * 1024;
    auto expected = reference_frames(bytes, limit);
    INFO("round " << round << " limit " << limit);
    auto whole = split_whole(bytes, false, limit);
    REQUIRE(whole.frames == expected);
    CHECK(split(
              bytes, [] { return size_t{1}; }, false, limit)
              .frames
          == expected);
    std::uniform_int_distribution<size_t> size{1, 97};
    CHECK(split(
              bytes, [&] { return size(rng); }, false, limit)
              .frames
          == expected);
  }
}

TEST_CASE("parse_frame keeps order, repeated keys, empty values, any case",
          "[ami][codec]") {
  ami_event ev;
  REQUIRE(parse_frame("Event: VarSet\r\nChanVariable: A=1\r\nAccountCode: "
                      "\r\nchanvariable: B=2\r\nValue:  two spaces",
                      ev));
  REQUIRE(ev.size() == 5);
  CHECK(ev.name() == "VarSet");
  CHECK(ev.key(1) == "ChanVariable");
  CHECK(ev.get("ACCOUNTCODE").empty());
  CHECK(ev.has("accountcode"));
  CHECK(ev.all("ChanVariable") == std::vector<std::string_view>{"A=1", "B=2"});
  // Only the one space after the colon belongs to the syntax.
  CHECK(ev.get("value") == " two spaces");
  std::string owned = "Event: Hangup\r\nCause: 16";
  REQUIRE(parse_frame(std::move(owned), ev));
  CHECK(ev.get("Cause") == "16");
  CHECK(ev.size() == 2);
}

TEST_CASE("malformed input never crashes and is counted", "[ami][codec]") {
  SECTION("a line without a colon, an empty key, NUL bytes") {
    ami_event ev;
    CHECK_FALSE(parse_frame("Event: Newchannel\r\nno colon here", ev));
    CHECK_FALSE(parse_frame(": no key", ev));
    CHECK_FALSE(parse_frame(std::string_view{"Event: A\0B", 10}, ev));
    CHECK_FALSE(parse_frame("", ev));
  }
  SECTION("lone LF line ends are tolerated") {
    std::string bytes = "Asterisk Call Manager/11.0.0\n"
                        "Event: A\nKey: 1\n\n"
                        "Event: B\r\nKey: 2\n\n"
                        "Event: C\nKey: 3\r\n\r\n";
    auto whole = split_whole(bytes);
    REQUIRE(whole.frames.size() == 3);
    auto one = split(bytes, [] { return size_t{1}; });
    CHECK(one.frames == whole.frames);
    ami_event ev;
    for (auto& f : whole.frames) {
      REQUIRE(parse_frame(f, ev));
      CHECK(ev.size() == 2);
      CHECK(ev.get("Key").size() == 1);
    }
  }
  SECTION("a frame over the limit is dropped, counted, and the stream "
          "resynchronizes") {
    std::string huge = "Event: Huge\r\n";
    while (huge.size() < 100 * 1024)
      huge += "ChanVariable: " + std::string(60, 'x') + "\r\n";
    std::string bytes = "Event: Before\r\nA: 1\r\n\r\n" + huge
                        + "\r\nEvent: After\r\nB: 2\r\n\r\n";
    for (size_t chunk : {size_t{1}, size_t{13}, size_t{4096}, bytes.size()}) {
      INFO("chunk " << chunk);
      auto result = split(
          bytes, [&] { return chunk; }, false);
      REQUIRE(result.frames.size() == 2);
      CHECK(result.frames[0] == "Event: Before\r\nA: 1");
      CHECK(result.frames[1] == "Event: After\r\nB: 2");
      CHECK(result.errors.oversized_frames == 1);
      CHECK(result.buffered == 0);
    }
    // The splitter never holds much more than the limit while discarding.
    frame_splitter splitter{1024};
    splitter.expect_banner(false);
    size_t peak = 0;
    for (size_t pos = 0; pos < huge.size(); pos += 512) {
      splitter.feed(
          std::string_view{huge}.substr(pos, 512), [](std::string_view) {},
          [](std::string_view) {});
      peak = std::max(peak, splitter.buffered());
    }
    CHECK(peak <= 2048);
  }
  SECTION("binary garbage and NULs") {
    std::mt19937 rng{7};
    std::string garbage;
    for (int i = 0; i < 200000; ++i)
      garbage += static_cast<char>(rng() % 256);
    // Empty lines every 500 bytes, so frames come out of the garbage.
    for (size_t i = 250; i + 4 < garbage.size(); i += 500)
      garbage.replace(i, 4, "\r\n\r\n");
    std::string bytes = garbage + "\r\n\r\nEvent: Clean\r\nK: v\r\n\r\n";
    std::vector<std::string> reference;
    for (size_t chunk : {bytes.size(), size_t{1}, size_t{1000}}) {
      auto result = split(
          bytes, [&] { return chunk; }, false);
      REQUIRE(result.frames.size() > 300);
      if (reference.empty())
        reference = result.frames;
      CHECK(result.frames == reference);
      // The frame after the garbage comes out intact.
      CHECK(result.frames.back() == "Event: Clean\r\nK: v");
      size_t malformed = 0;
      ami_event ev;
      for (auto& f : result.frames)
        if (!parse_frame(f, ev))
          ++malformed;
      CHECK(malformed > 300);
    }
  }
  SECTION("a wrong banner is still reported, not parsed as a frame") {
    auto result = split_whole("HTTP/1.1 400 Bad Request\r\n\r\n");
    CHECK(result.banners
          == std::vector<std::string>{"HTTP/1.1 400 Bad Request"});
    CHECK(result.frames.empty());
  }
}

TEST_CASE("action writer frames actions and refuses CR/LF injection",
          "[ami][codec]") {
  action_writer writer{"main"};
  auto id1 = writer.next_action_id();
  auto id2 = writer.next_action_id();
  CHECK(id1 == "sb-main-1");
  CHECK(id2 == "sb-main-2");
  std::string out;
  REQUIRE(writer.write(out, "Login", id1,
                       {{"Username", "admin"}, {"Secret", "s3cret"}}));
  CHECK(out
        == "Action: Login\r\nActionID: sb-main-1\r\nUsername: admin\r\n"
           "Secret: s3cret\r\n\r\n");
  // What the writer produces parses back.
  frame_splitter splitter;
  splitter.expect_banner(false);
  std::vector<std::string> frames;
  splitter.feed(
      out, [](std::string_view) {},
      [&](std::string_view f) { frames.emplace_back(f); });
  REQUIRE(frames.size() == 1);
  ami_event ev;
  REQUIRE(parse_frame(frames[0], ev));
  CHECK(ev.get("Secret") == "s3cret");

  std::string rejected;
  CHECK_FALSE(writer.write(rejected, "Originate", id2,
                           {{"Channel", "PJSIP/1001\r\nAction: Logoff"}}));
  CHECK_FALSE(writer.write(rejected, "Originate", id2,
                           {{"Channel", "PJSIP/1001\nAction: Logoff"}}));
  CHECK_FALSE(writer.write(rejected, "Originate", id2, {{"Bad\rKey", "x"}}));
  CHECK_FALSE(writer.write(rejected, "Originate", id2, {{"Key: x", "y"}}));
  CHECK_FALSE(writer.write(rejected, "Originate", id2, {{"", "y"}}));
  CHECK_FALSE(writer.write(rejected, "Ping\r\nAction: Logoff", id2, {}));
  CHECK_FALSE(writer.write(rejected, "Ping", "1\r\nAction: Logoff", {}));
  CHECK(rejected.empty());
}

TEST_CASE("MD5 login key matches a known value", "[ami][codec]") {
  // printf '%s' 1234567890secret | md5sum
  CHECK(sb::ami::md5_login_key("1234567890", "secret")
        == "e9b7ae6c91f6694cfc36d893733b1f7c");
  CHECK(sb::ami::md5_login_key("840415273", "mysecret")
        == "72ee2809cbf69e9bdb27bdd924cda8e3");
}

TEST_CASE("a banner longer than the frame limit, split over reads, costs no "
          "frame after it",
          "[ami][codec]") {
  // The limit is 64 bytes; the banner line is 150, so no read holds it whole
  // and the splitter must drop its rest up to its own line end, not up to
  // the next empty line (which ends the login response).
  const std::string banner
      = "Asterisk Call Manager/" + std::string(128, '9') + "\r\n";
  const std::string response
      = "Response: Success\r\nActionID: 1\r\nMessage: ok\r\n\r\n";
  const std::string event = "Event: Hangup\r\nUniqueid: 1.1\r\n\r\n";
  const std::string bytes = banner + response + event;
  for (size_t chunk : {size_t{40}, size_t{60}, size_t{100}, size_t{7}}) {
    CAPTURE(chunk);
    auto result = split(
        bytes, [&] { return chunk; }, true, 64);
    REQUIRE(result.banners.size() == 1);
    CHECK(result.banners[0].rfind("Asterisk Call Manager/", 0) == 0);
    REQUIRE(result.frames.size() == 2);
    CHECK(result.frames[0]
          == "Response: Success\r\nActionID: 1\r\nMessage: ok");
    CHECK(result.frames[1] == "Event: Hangup\r\nUniqueid: 1.1");
    CHECK(result.errors.oversized_frames == 1);
  }
}

TEST_CASE("feeding nothing changes nothing, with or without a tail",
          "[ami][codec]") {
  // A socket read of 0 bytes, or an empty view whose data() is null: the
  // splitter must not hand a null pointer to memchr (undefined behaviour
  // that UBSan reports even for a length of 0).
  frame_splitter splitter;
  std::vector<std::string> banners;
  std::vector<std::string> frames;
  auto on_banner = [&](std::string_view line) { banners.emplace_back(line); };
  auto on_frame = [&](std::string_view frame) { frames.emplace_back(frame); };
  splitter.feed(std::string_view{}, on_banner, on_frame);
  splitter.feed("", on_banner, on_frame);
  CHECK(splitter.buffered() == 0);
  splitter.feed("Asterisk Call Manager/5.0.1\r\nEvent: Hangup\r\nLinked",
                on_banner, on_frame);
  auto tail = splitter.buffered();
  CHECK(tail > 0);
  splitter.feed(std::string_view{}, on_banner, on_frame);
  splitter.feed(std::string_view{"x", 0}, on_banner, on_frame);
  CHECK(splitter.buffered() == tail);
  splitter.feed("id: 1\r\n\r\n", on_banner, on_frame);
  REQUIRE(banners.size() == 1);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].find("Linkedid: 1") != std::string::npos);
  CHECK(splitter.buffered() == 0);
}
