// Live-stream figures: 1,000 subscribers on GET /api/events while a paced
// PBX places calls, and the time from the AMI event that makes a phone ring
// reaching switchboard's socket to `call.ringing` reaching each subscriber.
// The subscribers are plain sockets read by one epoll thread of the bench
// (a thread per subscriber would measure the bench's scheduler).

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "adapters/ami/codec.hpp"
#include "adapters/ami/replay_server.hpp"
#include "bench/bench.hpp"
#include "tests/fixtures/e2e_harness.hpp"
#include "tests/fixtures/synthetic_capture.hpp"

namespace {

using namespace sb;
using steady = std::chrono::steady_clock;

constexpr const char* token = "bench-sse-token-0123456789abcdef";
/// 1,000 unless SB_BENCH_SSE_SUBSCRIBERS says otherwise (to see how the
/// latency grows with the fan-out).
size_t subscriber_count() {
  if (auto* text = std::getenv("SB_BENCH_SSE_SUBSCRIBERS"))
    return static_cast<size_t>(std::max(1L, std::atol(text)));
  return 1000;
}
const size_t subscribers = subscriber_count();
constexpr double calls_per_second = 500;
constexpr size_t copies = 60; // 3,000 calls: six seconds at 500 calls/s

/// Index (in stream order) of each call's first DialBegin: the event after
/// which the tracker tells that a phone rings.
std::unordered_map<std::string, size_t>
first_dials(const ami::replay_server& pbx) {
  std::unordered_map<std::string, size_t> first;
  auto& frames = pbx.capture_frames();
  for (size_t i = 0; i < frames.size(); ++i) {
    if (frames[i].compare(0, 16, "Event: DialBegin") != 0)
      continue;
    ami_event ev;
    if (!ami::parse_frame(std::string_view{frames[i]}, ev))
      continue;
    first.emplace(std::string{ev.get("Linkedid")}, i);
  }
  return first;
}

int connect_local(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::string req = "GET /api/events?types=call.ringing HTTP/1.1\r\n"
                    "Host: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                    "Authorization: Bearer "
                    + std::string{token} + "\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL)
      != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// Every subscriber's stream, read by one epoll thread: the first arrival of
/// `call.ringing` per (subscriber, call).
class fan_in {
public:
  explicit fan_in(uint16_t port) : epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    streams_.resize(subscribers);
    for (size_t i = 0; i < subscribers; ++i) {
      streams_[i].fd = connect_local(port);
      if (streams_[i].fd < 0)
        continue;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      ::epoll_ctl(epoll_, EPOLL_CTL_ADD, streams_[i].fd, &ev);
      ++connected_;
    }
    thread_ = std::thread{[this] { run(); }};
  }

  ~fan_in() {
    stop_ = true;
    if (thread_.joinable())
      thread_.join();
    for (auto& s : streams_)
      if (s.fd >= 0)
        ::close(s.fd);
    ::close(epoll_);
  }

  fan_in(const fan_in&) = delete;
  fan_in& operator=(const fan_in&) = delete;

  size_t connected() const {
    return connected_;
  }

  /// Subscribers whose stream has started (the 200 and its headers came).
  size_t streaming() const {
    return streaming_.load();
  }

  size_t arrivals() const {
    return arrivals_.load();
  }

  /// (call_id -> arrival times), valid after the destructor's join or once
  /// arrivals() stopped moving; read only from the caller's thread then.
  std::vector<std::pair<std::string, steady::time_point>> take() {
    stop_ = true;
    if (thread_.joinable())
      thread_.join();
    std::vector<std::pair<std::string, steady::time_point>> out;
    for (auto& s : streams_)
      for (auto& [id, t] : s.first)
        out.emplace_back(id, t);
    return out;
  }

private:
  struct stream {
    int fd = -1;
    bool started = false;
    std::string buffer;
    std::unordered_map<std::string, steady::time_point> first;
  };

  void run() {
    std::vector<epoll_event> ready(256);
    char chunk[65536];
    while (!stop_) {
      int n = ::epoll_wait(epoll_, ready.data(),
                           static_cast<int>(ready.size()), 50);
      auto now = steady::now();
      for (int k = 0; k < n; ++k) {
        auto& s = streams_[ready[k].data.u64];
        auto got = ::recv(s.fd, chunk, sizeof chunk, MSG_DONTWAIT);
        if (got <= 0)
          continue;
        s.buffer.append(chunk, static_cast<size_t>(got));
        scan(s, now);
      }
    }
  }

  void scan(stream& s, steady::time_point now) {
    if (!s.started) {
      auto end = s.buffer.find("\r\n\r\n");
      if (end == std::string::npos)
        return;
      s.started = true;
      ++streaming_;
      s.buffer.erase(0, end + 4);
    }
    size_t pos = 0;
    while (true) {
      auto end = s.buffer.find("\n\n", pos);
      if (end == std::string::npos)
        break;
      std::string_view block{s.buffer.data() + pos, end - pos};
      pos = end + 2;
      static constexpr std::string_view key = "\"call_id\":\"";
      auto at = block.find(key);
      if (at == std::string_view::npos)
        continue;
      auto from = at + key.size();
      auto to = block.find('"', from);
      if (to == std::string_view::npos)
        continue;
      if (s.first.emplace(std::string{block.substr(from, to - from)}, now)
            .second)
        ++arrivals_;
    }
    s.buffer.erase(0, pos);
  }

  int epoll_;
  std::vector<stream> streams_;
  size_t connected_ = 0;
  std::atomic<size_t> streaming_{0};
  std::atomic<size_t> arrivals_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct fan_out_run {
  std::vector<double> millis;
  size_t expected = 0;
  size_t connected = 0;
  double rss_per_subscriber = 0;
};

fan_out_run run_fan_out(test::scratch_dir& dir, int run) {
  test::repeat_options opts;
  opts.copies = copies;
  opts.drop_events = test::events_outside_call_cdr();
  auto capture = test::repeat_capture("dev-11-burst-50", opts);
  auto path = dir.file("burst-" + std::to_string(run) + ".ami");
  test::write_capture(path, capture.bytes);
  ami::replay_options ropts;
  ropts.capture_path = path;
  ropts.events_per_second = calls_per_second
                            * static_cast<double>(capture.events)
                            / static_cast<double>(capture.calls);
  // Held until every subscriber streams.
  ropts.held = true;
  auto pbx = ami::replay_server::start(ropts);
  if (!pbx)
    throw std::runtime_error("replay server: " + caf::to_string(pbx.error()));
  auto dials = first_dials(**pbx);
  auto url = "sqlite:" + dir.file("crm-" + std::to_string(run) + ".db");
  fan_out_run r;
  test::pipeline p{url, dir.file("spool-" + std::to_string(run)), **pbx,
                   "pbx1", [](app_config& cfg, server_options& o) {
                     o.http = true;
                     cfg.http.listen = "127.0.0.1:0";
                     cfg.http.token = token;
                     cfg.events.poll_seconds = 0.2;
                   }};
  auto rss0 = static_cast<double>(bench::current_rss_bytes());
  fan_in subs{p.srv().http_port()};
  r.connected = subs.connected();
  test::wait_until([&] { return subs.streaming() >= subs.connected(); },
                   std::chrono::seconds{30}, std::chrono::milliseconds{5});
  r.rss_per_subscriber
    = (static_cast<double>(bench::current_rss_bytes()) - rss0)
      / static_cast<double>(std::max<size_t>(1, subs.streaming()));
  // When the replay server finished writing the first N events.
  std::vector<std::pair<steady::time_point, size_t>> sent;
  sent.reserve(200000);
  std::atomic<bool> stop{false};
  std::thread sender_watch{[&] {
    size_t last = 0;
    while (!stop.load()) {
      auto n = (*pbx)->events_sent();
      if (n != last) {
        sent.emplace_back(steady::now(), n);
        last = n;
      }
      std::this_thread::sleep_for(std::chrono::microseconds{100});
    }
  }};
  (*pbx)->release();
  r.expected = dials.size() * subs.streaming();
  size_t last = 0;
  auto quiet_since = steady::now();
  // Until every arrival came, or nothing moved for five seconds.
  test::wait_until(
    [&] {
      auto now = subs.arrivals();
      if (now != last) {
        last = now;
        quiet_since = steady::now();
      }
      return now >= r.expected
             || steady::now() - quiet_since > std::chrono::seconds{5};
    },
    std::chrono::seconds{120}, std::chrono::milliseconds{5});
  stop = true;
  sender_watch.join();
  for (auto& [call, at] : subs.take()) {
    auto d = dials.find(call);
    if (d == dials.end())
      continue;
    auto s = std::upper_bound(
      sent.begin(), sent.end(), d->second,
      [](size_t i, const std::pair<steady::time_point, size_t>& x) {
        return i < x.second;
      });
    if (s == sent.end())
      continue;
    r.millis.push_back(
      std::chrono::duration<double, std::milli>(at - s->first).count());
  }
  return r;
}

double load_average() {
  double avg[1] = {0};
  return ::getloadavg(avg, 1) == 1 ? avg[0] : -1;
}

} // namespace

SB_BENCH("events: call.ringing to 1,000 SSE subscribers at 500 calls/s") {
  log::set_level(log::level::warning);
  test::scratch_dir dir{"sb-bench-sse"};
  std::vector<double> p50s;
  std::vector<double> p99s;
  for (int run = 0; run < 3; ++run) {
    auto r = run_fan_out(dir, run);
    auto p50 = bench::percentile(r.millis, 0.5);
    auto p99 = bench::percentile(r.millis, 0.99);
    p50s.push_back(p50);
    p99s.push_back(p99);
    std::printf("    run %d: %zu subscribers, %zu of %zu ringing deliveries; "
                "AMI event at the socket -> call.ringing at the subscriber "
                "p50 %.2f ms p99 %.2f ms max %.2f ms; RSS %.1f KiB per "
                "subscriber; load average %.1f\n",
                run, r.connected, r.millis.size(), r.expected, p50, p99,
                bench::percentile(r.millis, 1), r.rss_per_subscriber / 1024,
                load_average());
  }
  std::printf("  median of 3: p50 %.2f ms, p99 %.2f ms\n",
              bench::median(p50s), bench::median(p99s));
}
