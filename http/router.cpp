#include "http/router.hpp"

#include <array>
#include <cstdio>

#include "core/log.hpp"
#include "core/percent.hpp"
#include "http/form.hpp"
#include "http/json.hpp"

namespace sb::http {

namespace {

bool is_regex_special(char c) {
  static constexpr std::string_view special = ".^$|()[]*+?\\{}";
  return special.find(c) != std::string_view::npos;
}

bool takes_body(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

void deny(response& res, auth_outcome outcome, scope needed) {
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

/// The path as matched against route templates: percent-decoded, so
/// `/api/crm/customers/%31` is customer 1.
std::string routing_path(const request& req) {
  return percent_decode(req.path, false);
}

} // namespace

std::string path_param(const request& req, size_t index) {
  return req.path_param(index);
}

std::string_view method_label(std::string_view method) noexcept {
  static constexpr std::array<std::string_view, 9> known{
      "GET",     "HEAD",    "POST",  "PUT",  "DELETE",
      "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  for (auto k : known)
    if (k == method)
      return k;
  return "other";
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

router::router(authenticator auth) : auth_(std::move(auth)) {}

void router::add(route r, handler h) {
  static constexpr std::array<std::string_view, 5> supported{
      "GET", "POST", "PUT", "PATCH", "DELETE"};
  bool known = false;
  for (auto m : supported)
    known = known || m == r.method;
  if (!known)
    throw std::invalid_argument("router: unsupported method " + r.method);
  auto pattern = pattern_of(r.path);
  entries_.push_back(std::make_shared<entry>(
      entry{std::move(r), std::regex{pattern}, std::move(h)}));
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

size_t router::find(const request& req) const {
  auto path = routing_path(req);
  for (size_t i = 0; i < entries_.size(); ++i)
    if (entries_[i]->spec.method == req.method
        && std::regex_match(path, entries_[i]->pattern))
      return i;
  return npos;
}

bool router::quick(size_t index) const noexcept {
  return index < entries_.size() && entries_[index]->spec.quick;
}

bool router::admitted(const entry& e, request& req, response& res) const {
  const auto& spec = e.spec;
  // Exactly one Authorization field: with two, a proxy and this server
  // could each check a different one (the engine refuses these already).
  auto header = req.header("Authorization");
  auto outcome = auth_.check(header, spec.needed);
  auto token = bearer_token(header);
  if (outcome == auth_outcome::granted && spec.needed != scope::none)
    req.caller_role = auth_.role_of(token);
  if (outcome == auth_outcome::invalid && spec.needed != scope::none) {
    if (auto agent = auth_.agent_of(token)) {
      if (!spec.agent_route) {
        send_error(res, 403, "forbidden",
                   "an agent token acts only on its agent's Ozonetel routes; "
                   "this endpoint needs the API token");
        return false;
      }
      outcome = auth_outcome::granted;
      req.caller_role = "agent";
      req.caller_agent = *agent;
    }
  }
  if (outcome != auth_outcome::granted && spec.alternative_auth
      && spec.alternative_auth(req))
    outcome = auth_outcome::granted;
  if (outcome != auth_outcome::granted) {
    deny(res, outcome, spec.needed);
    return false;
  }
  if (!spec.accepts.empty() && (takes_body(req.method) || !req.body.empty())) {
    for (auto& type : spec.accepts)
      if (has_media_type(req, type))
        return true;
    std::string list;
    for (auto& type : spec.accepts)
      list += (list.empty() ? "" : " or ") + type;
    send_error(res, 415, "unsupported_media_type",
               "send the body with Content-Type: " + list);
    return false;
  }
  return true;
}

std::string router::methods_at(const request& req) const {
  auto path = routing_path(req);
  std::string allow;
  for (auto& e : entries_)
    if (std::regex_match(path, e->pattern)
        && allow.find(e->spec.method) == std::string::npos)
      allow += (allow.empty() ? "" : ", ") + e->spec.method;
  return allow;
}

std::string_view router::serve(size_t index, request& req,
                               response& res) const {
  auto origin = req.header("Origin");
  if (origin.empty() || !cors_.allows(origin))
    return serve_route(index, req, res);
  if (req.method == "OPTIONS" && req.has_header("Access-Control-Request-Method")) {
    // A browser's preflight carries no credentials: answered before auth.
    auto methods = methods_at(req);
    if (!methods.empty()) {
      cors_policy::preflight(res, origin, methods);
      return preflight_route;
    }
  }
  auto route = serve_route(index, req, res);
  cors_policy::decorate(res, origin);
  return route;
}

std::string_view router::serve_route(size_t index, request& req,
                                     response& res) const {
  if (index >= entries_.size()) {
    not_routed(req, res);
    return unmatched_route;
  }
  const auto& e = *entries_[index];
  auto path = routing_path(req);
  std::smatch m;
  if (std::regex_match(path, m, e.pattern)) {
    req.path_params.clear();
    for (size_t i = 1; i < m.size(); ++i)
      req.path_params.push_back(m[i].str());
  }
  if (!admitted(e, req, res))
    return e.spec.path;
  try {
    e.run(req, res);
  } catch (const std::exception& ex) {
    log::error("http_server", "handler failed",
               {{"method", method_label(req.method)},
                {"route", e.spec.path},
                {"what", ex.what()}});
    res = response{};
    send_error(res, 500, "internal_error",
               "the server failed to handle this request; see its log");
  }
  return e.spec.path;
}

void router::not_routed(const request& req, response& res) const {
  // A known path with another method is 405, not 404.
  auto allow = methods_at(req);
  if (!allow.empty()) {
    res.set_header("Allow", allow);
    send_error(res, 405, "method_not_allowed",
               "use " + allow + " for " + req.path.substr(0, 200));
    return;
  }
  send_error(res, 404, "not_found",
             "no route " + std::string{method_label(req.method)} + " "
                 + req.path.substr(0, 200) + "; see /openapi.yaml for the API");
}

void router::finished(const request& req, const response& res,
                      std::string_view route, double seconds) const {
  // Paths are attacker-controlled: keep the line bounded.
  std::string_view path{req.path};
  if (path.size() > 200)
    path = path.substr(0, 200);
  auto method = method_label(req.method);
  // Server errors and slow answers are what an operator looks for; the rest
  // (scrapes, health checks, a client's 404) would drown them.
  bool notable = res.status >= 500 || seconds > 1.0;
  if (notable || log::current_level() <= log::level::debug) {
    char ms[32];
    std::snprintf(ms, sizeof ms, "%.3f", seconds * 1000);
    auto status = std::to_string(res.status);
    log::write(notable ? log::level::info : log::level::debug, "http_server",
               "request",
               {{"method", method},
                {"path", path},
                {"route", route},
                {"status", status},
                {"ms", ms}});
  }
  request_record rec{method, route, path, res.status, seconds};
  for (auto& hook : done_hooks_)
    hook(rec);
}

} // namespace sb::http
