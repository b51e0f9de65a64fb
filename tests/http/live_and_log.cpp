// GET /api/calls/active against the real AMI call tracker fed with a recorded
// call, and the request log line (what it says and what it never says).

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "actors/call_tracker.hpp"
#include "core/log.hpp"
#include "tests/fixtures/capture.hpp"
#include "tests/fixtures/http_fixture.hpp"

using namespace sb;
using namespace sb::test;

namespace {

/// GET /api/calls/active until `done(body)` holds or 10 s pass; the last
/// answer either way.
template <class Predicate>
httplib::Result active_until(httplib::Client& c, Predicate done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    auto res = c.Get("/api/calls/active", auth_read());
    if (!res || res->status != 200
        || std::chrono::steady_clock::now() > deadline)
      return res;
    rapidjson::Document doc;
    doc.Parse(res->body.c_str());
    if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("calls")
        && doc["calls"].IsArray() && done(doc))
      return res;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

} // namespace

TEST_CASE("active calls come from the AMI call tracker while the call is up") {
  test_server srv;
  pbx_config pbx;
  pbx.name = "default";
  auto tracker = srv.sys.spawn(call_tracker, std::vector<pbx_config>{pbx},
                               tracker_config{}, srv.matcher);
  // A second admin on the same actors, with the tracker as live-call source.
  http_deps deps{srv.sys, srv.cfg};
  deps.writer = srv.writer;
  deps.matcher = srv.matcher;
  deps.tracker = tracker;
  sb::http_server admin{std::move(deps)};
  auto port = admin.start();
  REQUIRE(port);
  httplib::Client c{"127.0.0.1", *port};
  auto caller = add_customer(c, "Inbound Caller", "+44 20 7946 0123");

  auto events = load_capture("dev-01-inbound-answered-caller-hangup");
  // The call happens now (its last event arrives now): the tracker's sweeps
  // run on the real clock, and a call last heard of on the capture's date
  // would be finalized as stale at the first sweep (it flaked that way).
  auto shift = caf::make_timestamp() - events.back().received;
  for (auto& e : events)
    e.received += shift;
  auto first_hangup
      = std::find_if(events.begin(), events.end(),
                     [](const ami_event& e) { return e.name() == "Hangup"; });
  REQUIRE(first_hangup != events.end());
  ami_event_batch ringing{"default", {events.begin(), first_hangup}};
  ami_event_batch rest{"default", {first_hangup, events.end()}};
  caf::anon_send(tracker, std::move(ringing));
  // The tracker shows the call once it has read the events: ask until it
  // does (bounded), never after a fixed sleep.
  auto during = active_until(
      c, [](const rapidjson::Document& d) { return d["calls"].Size() == 1; });
  REQUIRE(during);
  REQUIRE(during->status == 200);
  auto doc = json_of(during);
  REQUIRE(doc["calls"].Size() == 1);
  auto& call = doc["calls"][0];
  CHECK(str(call, "source") == "ami");
  CHECK(str(call, "id") == "1795298998.0");
  CHECK(str(call, "origin") == "default");
  CHECK(str(call, "started_at").rfind("2026-11-21T22:09:5", 0) == 0);

  caf::anon_send(tracker, std::move(rest));
  // Right after the last Hangup the tracker may still hold the call for its
  // trailing Cdr (a few ms): then it is shown as ending.
  auto hung_up = c.Get("/api/calls/active", auth_read());
  REQUIRE(hung_up);
  REQUIRE(hung_up->status == 200);
  auto hung_up_doc = json_of(hung_up);
  for (auto& x : hung_up_doc["calls"].GetArray())
    CHECK(str(x, "state") == "ending");

  // The finished call goes on through the matcher and the writer.
  caf::scoped_actor self{srv.sys};
  auto db = srv.open_db();
  caf::optional<comms_entry> stored;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!stored && std::chrono::steady_clock::now() < deadline) {
    self->request(srv.writer, std::chrono::seconds(5), status_atom_v)
        .receive([](int64_t) {}, [](caf::error&) {});
    auto found = db->find_comms("ami", "1795298998.0");
    REQUIRE(found);
    stored = *found;
  }
  REQUIRE(stored);
  REQUIRE(stored->customer_id);
  CHECK(*stored->customer_id == caller);
  // Finalized (it reached the comms log), so no longer live.
  auto after = active_until(
      c, [](const rapidjson::Document& d) { return d["calls"].Size() == 0; });
  REQUIRE(after);
  REQUIRE(after->status == 200);
  CHECK(json_of(after)["calls"].Size() == 0);
  admin.stop();
  caf::anon_send_exit(tracker, caf::exit_reason::user_shutdown);
}

namespace {

/// Captures what the process writes to stderr while alive.
class stderr_capture {
public:
  explicit stderr_capture(const std::string& path) : path_(path) {
    std::fflush(stderr);
    saved_ = ::dup(2);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    ::dup2(fd, 2);
    ::close(fd);
  }

  ~stderr_capture() {
    restore();
  }

  std::string text() {
    restore();
    std::ifstream in{path_};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

private:
  void restore() {
    if (saved_ < 0)
      return;
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
  }

  std::string path_;
  int saved_ = -1;
};

} // namespace

TEST_CASE("each request is one log line with method, path, status and time, "
          "never a secret") {
  test_server srv;
  auto c = srv.client();
  // One connection = one worker thread serving the requests in order: the
  // line of a request is written before the next request is read, so the
  // answer to the last (/healthz) proves the four lines before it are out.
  c.set_keep_alive(true);
  auto previous = log::current_level();
  // Answers below 500 are logged at debug (at info they would drown the
  // errors); this test reads them there.
  log::set_level(log::level::debug);
  std::string text;
  {
    stderr_capture capture{(srv.dir.path() / "stderr.log").string()};
    auto res
        = c.Get("/api/crm/comms?limit=3&token=query-secret-123", auth_read());
    REQUIRE(res);
    CHECK(res->status == 400); // token is not a comms filter
    auto ok = c.Get("/api/crm/comms?limit=3", auth_read());
    REQUIRE(ok);
    CHECK(ok->status == 200);
    auto denied = c.Post("/api/crm/customers", auth("wrong-secret-456"), "{}",
                         "application/json");
    REQUIRE(denied);
    CHECK(denied->status == 401);
    auto missing = c.Get("/no/such/route");
    REQUIRE(missing);
    auto fence = c.Get("/healthz");
    REQUIRE(fence);
    text = capture.text();
  }
  log::set_level(previous);
  std::vector<std::string> lines;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    if (line.find("actor=http_server msg=request") != std::string::npos)
      lines.push_back(line);
  REQUIRE(lines.size() >= 4);
  CHECK(lines[0].find("method=GET path=/api/crm/comms route=/api/crm/comms "
                      "status=400 ms=")
        != std::string::npos);
  CHECK(lines[1].find("status=200") != std::string::npos);
  CHECK(lines[2].find("method=POST path=/api/crm/customers")
        != std::string::npos);
  CHECK(lines[2].find("status=401") != std::string::npos);
  CHECK(lines[3].find("path=/no/such/route route=unmatched status=404")
        != std::string::npos);
  for (auto& line : lines) {
    INFO(line);
    CHECK(line.find("ms=") != std::string::npos);
    CHECK(line.find("level=debug") != std::string::npos);
  }
  // No token, from a header or a query string, ever reaches the log.
  CHECK(text.find(read_token) == std::string::npos);
  CHECK(text.find(write_token) == std::string::npos);
  CHECK(text.find("query-secret-123") == std::string::npos);
  CHECK(text.find("wrong-secret-456") == std::string::npos);
}

TEST_CASE("server errors are logged at info, other answers only at debug") {
  scratch_dir elsewhere;
  server_options opts;
  opts.db_url = "sqlite:" + (elsewhere.path() / "missing" / "x.db").string();
  opts.spawn_writer = false;
  test_server srv{opts};
  auto c = srv.client();
  c.set_keep_alive(true);
  auto previous = log::current_level();
  log::set_level(log::level::info);
  std::string text;
  {
    stderr_capture capture{(srv.dir.path() / "stderr.log").string()};
    auto down = c.Get("/api/crm/comms?limit=3&since=2026-11-21T00:00:00Z",
                      auth_read());
    REQUIRE(down);
    CHECK(down->status == 503);
    auto missing = c.Get("/no/such/route");
    REQUIRE(missing);
    CHECK(missing->status == 404);
    auto fence = c.Get("/healthz");
    REQUIRE(fence);
    text = capture.text();
  }
  log::set_level(previous);
  std::vector<std::string> lines;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    if (line.find("actor=http_server msg=request") != std::string::npos)
      lines.push_back(line);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("level=info") != std::string::npos);
  CHECK(lines[0].find("path=/api/crm/comms route=/api/crm/comms status=503")
        != std::string::npos);
  CHECK(text.find("since=") == std::string::npos);
  CHECK(text.find("/no/such/route") == std::string::npos);
}
