#include "adapters/webhook/delivery.hpp"

#include <httplib.h>

#include "adapters/json/event_json.hpp"
#include "adapters/webhook/signature.hpp"

namespace sb::webhook {

verdict judge(int status) {
  if (status >= 200 && status < 300)
    return verdict::delivered;
  if (status >= 500 || status == 408 || status == 429)
    return verdict::retry;
  return verdict::refused;
}

target split_url(const std::string& url) {
  target t;
  auto scheme_end = url.find("://");
  auto path_start
      = url.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
  auto query_start = url.find('?', scheme_end == std::string::npos ? 0
                                                                   : scheme_end + 3);
  if (query_start != std::string::npos
      && (path_start == std::string::npos || query_start < path_start))
    path_start = query_start;
  if (path_start == std::string::npos) {
    t.scheme_host_port = url;
    t.path = "/";
  } else {
    t.scheme_host_port = url.substr(0, path_start);
    t.path = url.substr(path_start);
    if (t.path.front() == '?')
      t.path.insert(0, "/");
  }
  return t;
}

poster::poster(const std::string& url, std::string secret,
               std::chrono::milliseconds timeout)
    : target_(split_url(url)), secret_(std::move(secret)),
      client_(std::make_unique<httplib::Client>(target_.scheme_host_port)) {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(timeout);
  client_->set_connection_timeout(micros);
  client_->set_read_timeout(micros);
  client_->set_write_timeout(micros);
  client_->set_keep_alive(true);
  // Headers and body go out as separate writes: without this, Nagle and
  // the receiver's delayed ACK hold every request about 40 ms.
  client_->set_tcp_nodelay(true);
  client_->set_follow_location(false);
}

poster::~poster() = default;

void poster::stop() {
  client_->stop();
}

outcome poster::post(const stored_event& e, int64_t unix_seconds) {
  outcome out;
  if (!client_->is_valid()) {
    out.result = verdict::refused;
    out.error = "invalid webhook url";
    return out;
  }
  auto body = json::event_json(e);
  auto timestamp = std::to_string(unix_seconds);
  httplib::Headers headers{
      {"X-Switchboard-Event-Id", std::to_string(e.id)},
      {"X-Switchboard-Event-Type", e.type},
      {"X-Switchboard-Timestamp", timestamp},
      {"X-Switchboard-Signature", signature(secret_, timestamp, body)},
      {"User-Agent", "switchboard-webhook"}};
  auto res = client_->Post(target_.path, headers, body, "application/json");
  if (!res) {
    out.result = verdict::retry;
    out.error = "no answer: " + httplib::to_string(res.error());
    return out;
  }
  out.status = res->status;
  out.result = judge(res->status);
  if (out.result != verdict::delivered) {
    out.error = "HTTP " + std::to_string(res->status);
    // A short excerpt of the receiver's reason helps whoever reads the
    // dead letters; the receiver's own text, never ours.
    std::string excerpt;
    for (char c : res->body.substr(0, 200))
      excerpt.push_back(c >= 0x20 && c < 0x7f ? c : ' ');
    if (!excerpt.empty())
      out.error += ": " + excerpt;
  }
  return out;
}

} // namespace sb::webhook
