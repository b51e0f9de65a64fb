#pragma once

// Internals of the engine: one session per connection, the registry that
// enforces the connection caps, and the engine's shared state. Only
// engine.cpp and session.cpp include this.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/engine.hpp"

namespace sb::http::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using executor_type = asio::any_io_executor;

/// Where a connection is in its life; the registry reads it to find idle
/// connections to close at the cap.
enum class phase : uint8_t {
  /// Waiting for the first byte of a request.
  idle,
  /// Reading a request head or body.
  reading,
  /// A handler is working on the request.
  handling,
  writing,
  streaming,
  closed,
};

/// Lets streams held by anyone outlive the engine safely: a push after
/// stop() finds `running` false instead of posting to a dead io_context.
struct liveness {
  std::mutex mutex;
  bool running = true;
};

class session;

class registry {
public:
  explicit registry(const server_limits& limits) : limits_(limits) {}

  /// Registers `s`. At a cap, closes the oldest idle connection (of the same
  /// address for the per-client cap); false when none is idle: refuse `s`.
  bool admit(const std::shared_ptr<session>& s);

  void remove(session& s);

  std::vector<std::shared_ptr<session>> all() const;

  engine_stats stats() const;

private:
  /// Picks the oldest idle connection (of `address` when given) and stops
  /// counting it; every session looked at is kept alive in `hold` so none is
  /// destroyed while the lock is held.
  bool evict_oldest_idle(const std::string* address,
                         std::vector<std::shared_ptr<session>>& hold,
                         std::shared_ptr<session>& victim);

  const server_limits& limits_;
  mutable std::mutex mutex_;
  std::list<std::weak_ptr<session>> sessions_; // oldest first
  std::unordered_map<std::string, size_t> per_address_;
  size_t counted_ = 0;
  size_t evicted_ = 0;
  size_t refused_ = 0;
};

class stream_impl;

class session : public std::enable_shared_from_this<session> {
public:
  session(engine::state& st, tcp::socket socket, std::string address);
  ~session();

  session(const session&) = delete;
  session& operator=(const session&) = delete;

  void start();
  /// Answers 503 and closes (over the connection cap).
  void refuse();
  /// Closes from any thread.
  void close_soon();

  phase current() const noexcept {
    return phase_.load(std::memory_order_relaxed);
  }
  const std::string& address() const noexcept {
    return address_;
  }

  // The registry's bookkeeping.
  std::list<std::weak_ptr<session>>::iterator slot;
  bool registered = false;
  /// Still counted against the caps (false once chosen for eviction).
  bool counted = false;

  // What stream_impl calls, on the strand.
  void stream_chunk(std::string chunk);
  void stream_end();

private:
  void wait_for_request();
  void on_idle_deadline();
  void read_head();
  void on_head(boost::system::error_code ec);
  void on_body(boost::system::error_code ec);
  void read_failed(boost::system::error_code ec);
  void dispatch_request();
  void respond(const request& req, response res, std::string_view route,
               bool keep);
  void write_out(bool keep);
  void reject(int status, std::string_view code, const std::string& message);
  void start_stream(response& res);
  void write_stream();
  void watch_peer();
  void linger(std::chrono::milliseconds budget);
  void drain();
  void close();
  void arm(std::chrono::milliseconds after);
  void disarm();
  void on_deadline();

  engine::state& st_;
  tcp::socket socket_;
  executor_type exec_;
  asio::steady_timer timer_;
  std::string address_;
  beast::flat_buffer buffer_;
  std::optional<beast::http::request_parser<beast::http::string_body>> parser_;
  std::atomic<phase> phase_{phase::idle};
  unsigned timer_generation_ = 0;
  bool timed_out_ = false;
  unsigned served_ = 0;
  unsigned version_ = 11;
  std::chrono::steady_clock::time_point started_;
  /// The bytes being written (one response, or one stream chunk).
  std::string out_;
  std::unique_ptr<char[]> scratch_;
  size_t drained_ = 0;
  // Streaming.
  std::shared_ptr<stream_impl> stream_;
  std::deque<std::string> pending_;
  bool stream_writing_ = false;
  bool stream_ending_ = false;

  friend class stream_impl;
};

/// The stream a handler gets; safe to use from any thread, before and after
/// the connection or the engine are gone.
class stream_impl : public stream {
public:
  stream_impl(std::weak_ptr<session> s, std::shared_ptr<liveness> life,
              executor_type strand, size_t limit)
      : session_(std::move(s)), life_(std::move(life)),
        strand_(std::move(strand)), limit_(limit) {}

  bool push(std::string chunk) override;
  bool push_last(std::string chunk) override;
  size_t queued() const override {
    return queued_.load();
  }
  void close() override;
  bool open() const override {
    return open_.load();
  }
  size_t dropped() const override {
    return dropped_.load();
  }

  /// The connection wrote `n` bytes of pushed chunks.
  void written(size_t n) {
    queued_.fetch_sub(n);
  }
  void mark_closed() {
    open_ = false;
  }

private:
  std::weak_ptr<session> session_;
  std::shared_ptr<liveness> life_;
  executor_type strand_;
  size_t limit_;
  std::atomic<bool> open_{true};
  std::atomic<size_t> queued_{0};
  std::atomic<size_t> dropped_{0};
};

} // namespace sb::http::detail

namespace sb::http {

struct engine::state {
  state(const router& r, server_limits l)
      : routes(r), limits(l), registry(limits) {}

  caf::expected<uint16_t> start(const std::string& host, uint16_t port);
  void stop();
  void accept();

  const router& routes;
  server_limits limits;
  detail::registry registry;
  std::shared_ptr<detail::liveness> life = std::make_shared<detail::liveness>();
  std::atomic<bool> started{false};
  std::atomic<bool> stopped{false};
  std::vector<std::thread> threads;
  // Destroyed first (reverse order): the io_context takes the sessions with
  // it while the registry above still exists.
  detail::asio::io_context ioc{static_cast<int>(limits.io_threads)};
  std::optional<detail::asio::thread_pool> pool;
  std::optional<detail::tcp::acceptor> acceptor;
  std::optional<detail::asio::steady_timer> accept_backoff;
};

} // namespace sb::http
