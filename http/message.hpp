#pragma once

// switchboard's own request and response types: what a route handler sees
// and fills, independent of the HTTP library underneath.
//
// Header values are exactly as the client sent them (no percent-decoding, no
// folding of repeated fields); query parameters are percent-decoded, and come
// from the URL only -- a form body never adds parameters.

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::http {

class stream;

using field_list = std::vector<std::pair<std::string, std::string>>;

struct request {
  /// As sent ("GET", "BREW", ...).
  std::string method;
  /// The request target as sent: path plus `?query`.
  std::string target;
  /// The target without the query string (not percent-decoded).
  std::string path;
  /// Decoded `name=value` pairs of the query string, in order.
  field_list query;
  /// Header fields in the order sent, names and values as sent.
  field_list headers;
  std::string body;
  /// Values of the route's `{name}` segments, in template order.
  std::vector<std::string> path_params;
  /// The peer's IP address.
  std::string remote_address;
  /// Who the bearer token says the caller is, set by the router once the
  /// request is admitted: "write", "read", "agent", or empty (no token
  /// needed, or let in by the route's alternative, e.g. a URL token).
  std::string caller_role;
  /// For an agent token: the agent it acts for.
  std::string caller_agent;

  /// The first value of header `name` (case-insensitive), empty when absent.
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  /// How often header `name` was sent.
  size_t header_count(std::string_view name) const;

  /// The first value of query parameter `name`, empty when absent.
  std::string param(std::string_view name) const;
  bool has_param(std::string_view name) const;

  /// `{id}` of the route, 1-based in template order; empty when absent.
  std::string path_param(size_t index) const;
};

/// A response kept open after its head: the handler (or anyone it hands the
/// pointer to) pushes chunks from any thread. Chunks beyond the
/// per-connection buffer are dropped, never queued without bound and never
/// blocking the pusher: a slow reader loses events, it does not slow the
/// server down.
class stream {
public:
  virtual ~stream() = default;

  /// Queues `chunk` for the client. False when the stream is closed or the
  /// chunk was dropped because the client is not reading fast enough.
  virtual bool push(std::string chunk) = 0;

  /// Queues `chunk` beyond the buffer limit and ends the response: the one
  /// last word to a client being dropped (keep it small). False when the
  /// stream is already closed.
  virtual bool push_last(std::string chunk) = 0;

  /// Bytes pushed and not yet written to the socket.
  virtual size_t queued() const = 0;

  /// Ends the response (the client sees the last chunk). Idempotent.
  virtual void close() = 0;

  /// False once the client went away or close() was called.
  virtual bool open() const = 0;

  /// Chunks dropped so far because the buffer was full.
  virtual size_t dropped() const = 0;
};

/// Called once the response head is on its way, with the stream to push to.
/// Runs on an I/O thread: hand the pointer over and return.
using stream_opener = std::function<void(std::shared_ptr<stream>)>;

struct response {
  int status = 200;
  field_list headers;
  std::string body;
  /// Set by start_stream(): the body is pushed later, chunk by chunk.
  stream_opener opener;
  /// Bytes a stream may buffer for a slow client before it drops chunks.
  size_t stream_buffer_bytes = 64 * 1024;

  /// Replaces header `name` (case-insensitive) or adds it.
  void set_header(std::string name, std::string value);
  /// The first value of header `name`, empty when absent.
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;

  void set_content(std::string content, std::string content_type);

  /// Turns this response into a stream (`Transfer-Encoding: chunked`, kept
  /// open until closed by either side). `open` receives the stream once the
  /// head is written.
  void start_stream(std::string content_type, stream_opener open,
                    size_t buffer_bytes = 64 * 1024);
};

} // namespace sb::http
