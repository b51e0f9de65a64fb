#pragma once

// The HTTP/1.1 server underneath the router: Boost.Beast over Asio, on a
// small fixed pool of I/O threads. A connection costs a socket and a small
// object, never a thread: idle keep-alive connections wait in the kernel,
// and a connection that dribbles its request is bounded by a deadline.
//
// Every limit holds before a byte is buffered beyond it and before any
// authentication:
// - request head: `max_header_bytes` (431) and `max_header_count` (431);
// - body: `max_body_bytes` for every transfer coding, chunked included; the
//   parser stops at the first byte past the limit (413);
// - the whole head and body must arrive within `request_deadline` (408);
// - an idle keep-alive connection is closed after `idle_timeout`, and after
//   `keep_alive_max` requests;
// - at most `max_connections` open connections, `max_connections_per_client`
//   from one address: at the cap the oldest idle connection is closed to
//   make room; when none is idle the new one is refused (503).
// - repeated Authorization or Content-Length fields are 400 (a proxy and this
//   server could otherwise read different values).
//
// Handlers that may block (database, actors) run on a separate pool of
// `handler_threads`; routes marked quick run on the I/O thread. A handler may
// turn its response into a stream (response::start_stream) that stays open
// without holding any thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/expected.hpp>

#include "http/router.hpp"

namespace sb::http {

struct server_limits {
  size_t max_header_bytes = 16 * 1024;
  size_t max_header_count = 100;
  size_t max_body_bytes = 1024 * 1024;
  std::chrono::milliseconds request_deadline{10'000};
  std::chrono::milliseconds idle_timeout{5'000};
  std::chrono::milliseconds write_timeout{10'000};
  unsigned keep_alive_max = 100;
  size_t max_connections = 4096;
  size_t max_connections_per_client = 1024;
  /// I/O threads (sockets, parsing, quick routes).
  unsigned io_threads = 2;
  /// Threads for handlers that may wait on the database or an actor.
  unsigned handler_threads = 8;
};

/// Counters for tests and the benchmark.
struct engine_stats {
  size_t open_connections = 0;
  /// Of those, waiting between requests (what the caps may close).
  size_t idle_connections = 0;
  size_t evicted = 0;
  size_t refused = 0;
};

class engine {
public:
  /// `routes` must outlive the engine.
  engine(const router& routes, server_limits limits);
  /// Stops (see stop()).
  ~engine();

  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  /// Binds `host:port` exclusively (no SO_REUSEPORT: a second instance on
  /// the same port fails here) and starts serving. Port 0 picks a free port.
  /// Returns the bound port.
  caf::expected<uint16_t> start(const std::string& host, uint16_t port);

  /// Stops accepting, closes every connection, waits for running handlers
  /// and joins the threads. Idempotent.
  void stop();

  engine_stats stats() const;

  const server_limits& limits() const noexcept;

  struct state;

private:
  std::shared_ptr<state> state_;
};

/// Raises the soft open-file limit to the hard limit (each connection is a
/// file descriptor). Returns the new soft limit.
size_t raise_open_file_limit();

} // namespace sb::http
