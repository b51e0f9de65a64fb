#include "http/event_routes.hpp"

#include <cctype>
#include <charconv>
#include <optional>
#include <string>

#include "core/strings.hpp"
#include "http/json.hpp"
#include "http/server.hpp"

namespace sb {

namespace {

/// A non-negative integer, none when `text` is anything else.
std::optional<int64_t> parse_id(const std::string& text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(),
                                   value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()
      || value < 0)
    return std::nullopt;
  return value;
}

bool valid_type(const std::string& t) {
  if (t.empty() || t.size() > 64)
    return false;
  for (char c : t)
    if (!(std::islower(static_cast<unsigned char>(c)) || c == '.' || c == '_'))
      return false;
  return true;
}

bool accepts_event_stream(const http::request& req) {
  if (!req.has_header("Accept"))
    return true;
  auto accept = lower(req.header("Accept"));
  return accept.find("text/event-stream") != std::string::npos
         || accept.find("*/*") != std::string::npos
         || accept.find("text/*") != std::string::npos;
}

/// Reads the filters and the resume point; false after answering 400.
bool read_request(const http::request& req, http::response& res,
                  http::event_filter& filter, std::optional<int64_t>& after) {
  auto types = req.param("types");
  std::string_view rest{types};
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto type = trim_copy(rest.substr(0, comma));
    rest.remove_prefix(comma == std::string_view::npos ? rest.size()
                                                       : comma + 1);
    if (type.empty())
      continue;
    if (!valid_type(type)) {
      http::send_error(res, 400, "invalid_parameter",
                       "types: '" + type
                           + "' is not an event type (e.g. call.ringing)");
      return false;
    }
    filter.types.insert(type);
  }
  filter.extension = req.param("extension");
  filter.agent = req.param("agent");
  if (req.has_param("customer_id")) {
    auto id = parse_id(req.param("customer_id"));
    if (!id) {
      http::send_error(res, 400, "invalid_parameter",
                       "customer_id must be a non-negative integer");
      return false;
    }
    filter.customer_id = *id;
  }
  // The browser's EventSource sends Last-Event-ID when it reconnects to the
  // same URL: it wins over the since= the page first asked for.
  if (req.has_header("Last-Event-ID")) {
    auto id = parse_id(trim_copy(req.header("Last-Event-ID")));
    if (!id) {
      http::send_error(res, 400, "invalid_parameter",
                       "Last-Event-ID must be an event id (an integer)");
      return false;
    }
    after = *id;
  } else if (req.has_param("since")) {
    auto id = parse_id(req.param("since"));
    if (!id) {
      http::send_error(res, 400, "invalid_parameter",
                       "since must be an event id (a non-negative integer)");
      return false;
    }
    after = *id;
  }
  return true;
}

} // namespace

void mount_event_routes(http::router& r, const http_context&,
                        event_hub_source hub, size_t buffer_bytes) {
  r.get("/api/events", http::scope::read,
        [hub, buffer_bytes](const http::request& req, http::response& res) {
          if (!accepts_event_stream(req)) {
            http::send_error(res, 406, "not_acceptable",
                             "GET /api/events answers text/event-stream");
            return;
          }
          http::event_filter filter;
          std::optional<int64_t> after;
          if (!read_request(req, res, filter, after))
            return;
          auto& h = hub();
          res.set_header("X-Accel-Buffering", "no");
          res.start_stream(
              "text/event-stream",
              [&h, filter = std::move(filter),
               after](std::shared_ptr<http::stream> s) mutable {
                h.subscribe(std::move(s), std::move(filter), after);
              },
              buffer_bytes);
        });
}

} // namespace sb
