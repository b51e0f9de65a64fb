#include "http/router.hpp"

#include <cstdio>

#include "core/log.hpp"
#include "http/json.hpp"

namespace sb::http {

namespace {

// One request is read, routed, answered and logged on one worker thread, so
// per-request bookkeeping can live in thread-locals between the hooks.
thread_local std::chrono::steady_clock::time_point request_started{};
thread_local const std::string* matched_route = nullptr;

constexpr std::string_view unmatched = "unmatched";

bool is_regex_special(char c) {
  switch (c) {
    case '.':
    case '^':
    case '$':
    case '|':
    case '(':
    case ')':
    case '[':
    case ']':
    case '*':
    case '+':
    case '?':
    case '\\':
    case '{':
    case '}':
      return true;
    default:
      return false;
  }
}

bool takes_body(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

void deny(httplib::Response& res, auth_outcome outcome, scope needed) {
  switch (outcome) {
    case auth_outcome::missing:
      res.set_header("WWW-Authenticate", "Bearer");
      send_error(res, 401, "unauthorized",
                 "send the API token as 'Authorization: Bearer <token>'");
      break;
    case auth_outcome::invalid:
      res.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
      send_error(res, 401, "unauthorized",
                 "the bearer token is not a configured token (http.token or "
                 "http.read_token)");
      break;
    case auth_outcome::forbidden:
      send_error(res, 403, "forbidden",
                 std::string{"this endpoint needs a token with "}
                     + to_string(needed)
                     + " scope; the read-only token (http.read_token) cannot "
                       "change data");
      break;
    case auth_outcome::disabled:
      send_error(res, 503, "api_disabled",
                 "the API is disabled: configure http.token (environment "
                 "SWITCHBOARD_HTTP_TOKEN) to enable it");
      break;
    case auth_outcome::granted:
      break;
  }
}

} // namespace

std::string path_param(const httplib::Request& req, size_t index) {
  if (index >= req.matches.size())
    return {};
  return req.matches[index].str();
}

std::string router::pattern_of(const std::string& path_template) {
  std::string out;
  out.reserve(path_template.size() + 16);
  for (size_t i = 0; i < path_template.size(); ++i) {
    char c = path_template[i];
    if (c == '{') {
      auto close = path_template.find('}', i);
      if (close != std::string::npos) {
        out += "([^/]+)";
        i = close;
        continue;
      }
    }
    if (is_regex_special(c))
      out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

router::router(httplib::Server& server, authenticator auth,
               size_t max_body_bytes)
    : server_(server), auth_(std::move(auth)), max_body_bytes_(max_body_bytes) {
  server_.set_payload_max_length(max_body_bytes_);
  server_.set_pre_routing_handler(
      [](const httplib::Request&, httplib::Response&) {
        request_started = std::chrono::steady_clock::now();
        matched_route = nullptr;
        return httplib::Server::HandlerResponse::Unhandled;
      });
  server_.set_error_handler(httplib::Server::HandlerWithResponse{
      [this](const httplib::Request& req, httplib::Response& res) {
        // Handlers already answered with their own JSON error.
        if (!res.body.empty())
          return httplib::Server::HandlerResponse::Unhandled;
        handle_error(req, res);
        return httplib::Server::HandlerResponse::Handled;
      }});
  server_.set_exception_handler([](const httplib::Request& req,
                                   httplib::Response& res,
                                   std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep)
        std::rethrow_exception(ep);
    } catch (const std::exception& ex) {
      what = ex.what();
    } catch (...) {
    }
    log::error("http_server", "handler failed",
               {{"method", req.method}, {"path", req.path}, {"what", what}});
    send_error(res, 500, "internal_error",
               "the server failed to handle this request; see its log");
  });
  server_.set_logger(
      [this](const httplib::Request& req, const httplib::Response& res) {
        log_request(req, res);
      });
}

void router::add(route r, handler h) {
  auto pattern = pattern_of(r.path);
  auto e = std::make_shared<entry>(entry{std::move(r), std::regex{pattern}});
  entries_.push_back(e);
  auto wrapped = [this, e, h = std::move(h)](const httplib::Request& req,
                                             httplib::Response& res) {
    matched_route = &e->spec.path;
    const auto& spec = e->spec;
    auto outcome
        = auth_.check(req.get_header_value("Authorization"), spec.needed);
    if (outcome != auth_outcome::granted && spec.alternative_auth
        && spec.alternative_auth(req))
      outcome = auth_outcome::granted;
    if (outcome != auth_outcome::granted) {
      deny(res, outcome, spec.needed);
      return;
    }
    if (!spec.accepts.empty()
        && (takes_body(req.method) || !req.body.empty())) {
      bool accepted = false;
      for (auto& type : spec.accepts)
        if (has_media_type(req, type)) {
          accepted = true;
          break;
        }
      if (!accepted) {
        std::string list;
        for (auto& type : spec.accepts)
          list += (list.empty() ? "" : " or ") + type;
        send_error(res, 415, "unsupported_media_type",
                   "send the body with Content-Type: " + list);
        return;
      }
    }
    try {
      h(req, res);
    } catch (const std::exception& ex) {
      log::error(
          "http_server", "handler failed",
          {{"method", req.method}, {"route", spec.path}, {"what", ex.what()}});
      res.headers.clear();
      send_error(res, 500, "internal_error",
                 "the server failed to handle this request; see its log");
    }
  };
  const auto& method = e->spec.method;
  if (method == "GET")
    server_.Get(pattern, std::move(wrapped));
  else if (method == "POST")
    server_.Post(pattern, std::move(wrapped));
  else if (method == "PUT")
    server_.Put(pattern, std::move(wrapped));
  else if (method == "PATCH")
    server_.Patch(pattern, std::move(wrapped));
  else if (method == "DELETE")
    server_.Delete(pattern, std::move(wrapped));
  else
    throw std::invalid_argument("router: unsupported method " + method);
}

void router::get(std::string path, scope needed, handler h) {
  route r;
  r.method = "GET";
  r.path = std::move(path);
  r.needed = needed;
  add(std::move(r), std::move(h));
}

void router::post(std::string path, scope needed, handler h) {
  route r;
  r.method = "POST";
  r.path = std::move(path);
  r.needed = needed;
  r.accepts = {"application/json"};
  add(std::move(r), std::move(h));
}

std::vector<route> router::routes() const {
  std::vector<route> result;
  result.reserve(entries_.size());
  for (auto& e : entries_)
    result.push_back(e->spec);
  return result;
}

void router::on_request_done(std::function<void(const request_record&)> hook) {
  done_hooks_.push_back(std::move(hook));
}

void router::handle_error(const httplib::Request& req, httplib::Response& res) {
  switch (res.status) {
    case 404: {
      if (matched_route != nullptr) {
        send_error(res, 404, "not_found", "no such resource");
        return;
      }
      // A known path with another method is 405, not 404.
      std::string allow;
      for (auto& e : entries_)
        if (std::regex_match(req.path, e->pattern)
            && allow.find(e->spec.method) == std::string::npos)
          allow += (allow.empty() ? "" : ", ") + e->spec.method;
      if (!allow.empty()) {
        res.set_header("Allow", allow);
        send_error(res, 405, "method_not_allowed",
                   "use " + allow + " for " + req.path);
        return;
      }
      send_error(res, 404, "not_found",
                 "no route " + req.method + " " + req.path
                     + "; see docs/openapi.yaml for the API");
      return;
    }
    case 400:
      send_error(res, 400, "bad_request", "malformed HTTP request");
      return;
    case 413:
      send_error(res, 413, "payload_too_large",
                 "request body is larger than "
                     + std::to_string(max_body_bytes_) + " bytes");
      return;
    case 414:
      send_error(res, 414, "uri_too_long", "request URI is too long");
      return;
    case 415:
      send_error(res, 415, "unsupported_media_type",
                 "unsupported Content-Encoding or Content-Type");
      return;
    default:
      send_error(res, res.status, "http_" + std::to_string(res.status),
                 "the request could not be served");
  }
}

void router::log_request(const httplib::Request& req,
                         const httplib::Response& res) {
  double seconds = 0;
  if (request_started != std::chrono::steady_clock::time_point{})
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now()
                                            - request_started)
                  .count();
  std::string_view route_name
      = matched_route != nullptr ? std::string_view{*matched_route} : unmatched;
  // Paths are attacker-controlled: keep the line bounded.
  std::string_view path{req.path};
  if (path.size() > 200)
    path = path.substr(0, 200);
  char ms[32];
  std::snprintf(ms, sizeof ms, "%.3f", seconds * 1000);
  auto status = std::to_string(res.status);
  log::info("http_server", "request",
            {{"method", req.method},
             {"path", path},
             {"route", route_name},
             {"status", status},
             {"ms", ms}});
  request_record rec{req.method, route_name, path, res.status, seconds};
  for (auto& hook : done_hooks_)
    hook(rec);
  request_started = {};
  matched_route = nullptr;
}

} // namespace sb::http
