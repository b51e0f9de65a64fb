#pragma once

// One webhook POST and what its answer means. Knows nothing of progress or
// retries: the sender (sender.hpp) decides with the verdict.
//
// The request: the event as GET /api/events carries it in `data:`, with
// Content-Type application/json, X-Switchboard-Event-Id,
// X-Switchboard-Event-Type, X-Switchboard-Timestamp (Unix seconds) and
// X-Switchboard-Signature (signature.hpp). Redirects are not followed.

#include <chrono>
#include <memory>
#include <string>

#include "messages/events.hpp"

namespace httplib {
class Client;
}

namespace sb::webhook {

enum class verdict {
  /// 2xx: the receiver has it.
  delivered,
  /// 5xx, 408, 429, a timeout, a refused or broken connection: try again.
  retry,
  /// Any other answer (4xx, a redirect): the receiver will never take it.
  refused,
};

struct outcome {
  verdict result = verdict::retry;
  /// The HTTP status; 0 when there was no answer.
  int status = 0;
  /// Why it failed, for logs and the database ("" when delivered).
  std::string error;
};

/// The verdict on an HTTP status.
verdict judge(int status);

/// scheme://host[:port] and the path (with query) of an http(s) URL; the
/// path is "/" when the URL has none.
struct target {
  std::string scheme_host_port;
  std::string path;
};
target split_url(const std::string& url);

/// POSTs events to one URL over one kept-alive connection. Used by one
/// thread; stop() may be called from any other.
class poster {
public:
  poster(const std::string& url, std::string secret,
         std::chrono::milliseconds timeout);
  ~poster();
  poster(const poster&) = delete;
  poster& operator=(const poster&) = delete;

  /// Sends `e`, signed with the time `unix_seconds`.
  outcome post(const stored_event& e, int64_t unix_seconds);

  /// Aborts a POST in flight (it ends as a retry): for a stop that must
  /// not wait for a stalled receiver.
  void stop();

private:
  target target_;
  std::string secret_;
  std::unique_ptr<httplib::Client> client_;
};

} // namespace sb::webhook
