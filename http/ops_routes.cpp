#include "http/ops_routes.hpp"

#include <algorithm>
#include <unordered_map>

#include "adapters/metrics/registry.hpp"
#include "http/errors.hpp"
#include "http/json.hpp"
#include "http/openapi.hpp"
#include "http/server.hpp"

namespace sb {

namespace {

void write_text(http::json_writer& w, const char* key, std::string_view v) {
  w.Key(key);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

void count(const http::request_record& rec) {
  // Registry lookups take its lock; each server thread keeps the series it
  // has used (they live as long as the registry). Labelled by route
  // template and method label (both bounded), never by raw path or method.
  thread_local std::unordered_map<std::string, metrics::counter*> counters;
  thread_local std::unordered_map<std::string, metrics::histogram*> timings;
  auto status = std::to_string(rec.status);
  std::string key{rec.route};
  key += '\0';
  key += rec.method;
  key += '\0';
  key += status;
  auto& counter = counters[key];
  if (counter == nullptr)
    counter = &metrics::global().get_counter(
        "switchboard_http_requests_total",
        "HTTP requests served, by route, method and status.",
        {{"route", std::string{rec.route}},
         {"method", std::string{rec.method}},
         {"status", status}});
  counter->inc();
  auto& timing = timings[std::string{rec.route}];
  if (timing == nullptr)
    timing = &metrics::global().get_histogram(
        "switchboard_http_request_seconds",
        "Time from request routing to response, by route.",
        {{"route", std::string{rec.route}}},
        {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
         2.5, 5, 10});
  timing->observe(rec.seconds);
}

// CloudAgent is informational: its outage never makes this server unready
// (calls and dispositions wait, retried, in the database).
void write_cloudagent(http::json_writer& w,
                      const caf::optional<ozonetel_health>& h, bool details) {
  w.Key("cloudagent");
  w.StartObject();
  if (!h) {
    write_text(w, "state", "unknown");
    w.EndObject();
    return;
  }
  write_text(w, "state", !h->enabled            ? "off"
                         : !h->session_running ? "down"
                         : h->has_token        ? "up"
                                               : "no_token");
  write_text(w, "subscription", h->subscription);
  if (details) {
    w.Key("token");
    w.StartObject();
    w.Key("valid");
    w.Bool(h->has_token);
    w.Key("expires_at");
    w.Int64(h->token_expires_at);
    w.Key("generations_last_hour");
    w.Int64(h->generations_last_hour);
    w.EndObject();
    write_text(w, "last_error", h->last_error);
    write_text(w, "subscription_error", h->subscription_error);
    w.Key("subscription_attempts");
    w.Int64(h->subscription_attempts);
    w.Key("subscription_failures");
    w.Int64(h->subscription_failures);
    if (h->subscription_retry_at > 0)
      write_text(w, "subscription_retry_at",
                 iso8601_utc(h->subscription_retry_at));
    w.Key("tracked_calls");
    w.Int64(h->tracked_calls);
    w.Key("pending_dispositions");
    w.Int64(h->pending_dispositions);
    w.Key("agents");
    w.Int64(h->agents);
  }
  w.EndObject();
}

struct ops_routes {
  const http_context& ctx;
  const http::authenticator& auth;
  ops_sources sources;

  std::chrono::milliseconds wait() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(ctx.timeout);
  }

  // GET /api/calls/active
  void active_calls(const http::request&, http::response& res) {
    std::vector<live_call> calls;
    std::vector<live_call_source> all;
    if (sources.tracker && sources.tracker->get())
      all.push_back(live_calls_of(ctx.system, "ami", sources.tracker));
    for (auto& s : sources.live_calls)
      all.push_back(s);
    for (auto& s : all) {
      auto part = s.fetch(ctx.timeout);
      if (!part) {
        http::send_failure(res, "live calls of " + s.name, part.error());
        return;
      }
      calls.insert(calls.end(), part->begin(), part->end());
    }
    std::stable_sort(calls.begin(), calls.end(),
                     [](const live_call& a, const live_call& b) {
                       return a.started_at < b.started_at;
                     });
    // The customer from the matcher's index (as call.ringing shows it); a
    // matcher that does not answer leaves the calls without one rather
    // than failing the list.
    if (sources.matcher && !calls.empty()) {
      if (auto matcher = sources.matcher->get()) {
        auto named = http_ask<std::vector<live_call>>(ctx, matcher, match_atom_v,
                                                      calls);
        if (named)
          calls = std::move(*named);
      }
    }
    rapidjson::StringBuffer buf;
    http::json_writer w{buf};
    w.StartObject();
    w.Key("calls");
    w.StartArray();
    for (auto& c : calls)
      http::write_json(w, c);
    w.EndArray();
    w.EndObject();
    http::send_json(res, 200, {buf.GetString(), buf.GetSize()});
  }

  // Webhooks are shown, never a reason for "not ready": a receiver that is
  // down is the receiver's outage, and the events wait for it.
  static void write_webhooks(http::json_writer& w,
                             const std::vector<webhook_status>& hooks,
                             bool details) {
    w.Key("webhooks");
    w.StartArray();
    for (const auto& h : hooks) {
      w.StartObject();
      write_text(w, "endpoint", h.endpoint);
      write_text(w, "state", h.attempts > 0 ? "retrying" : "ok");
      if (details) {
        w.Key("last_event_id");
        w.Int64(h.last_event_id);
        w.Key("attempts");
        w.Int64(h.attempts);
        w.Key("lag_seconds");
        w.Double(h.lag_seconds);
        w.Key("delivered");
        w.Int64(h.delivered);
        w.Key("dead_letters");
        w.Int64(h.dead_letters);
        w.Key("claimed_elsewhere");
        w.Bool(h.claimed_elsewhere);
        write_text(w, "last_error", h.last_error);
      }
      w.EndObject();
    }
    w.EndArray();
  }

  // GET /readyz: without a token only up or down per component, so an
  // anonymous prober learns no host names or driver errors.
  void ready(const http::request& req, http::response& res) {
    bool details = auth.check(req.header("Authorization"), http::scope::read)
                   == http::auth_outcome::granted;
    std::string reasons;
    auto add_reason = [&](const std::string& r) {
      if (!reasons.empty())
        reasons += "; ";
      reasons += r;
    };
    std::string db_state = "ok";
    auto ping
        = ctx.reads.run([](store::database& db) { return db.ping(); }, wait());
    if (!ping) {
      db_state = details ? describe(ping.error()) : "down";
      add_reason(details ? "database unreachable: " + db_state
                         : "database unreachable");
    }
    std::vector<connection_status> conns;
    if (sources.connections)
      conns = sources.connections();
    for (auto& c : conns)
      if (c.state != connection_state::logged_in) {
        std::string r = c.pbx + " is " + (details ? to_string(c.state) : "down");
        if (details && !c.last_error.empty())
          r += " (" + c.last_error + ")";
        add_reason(r);
      }
    caf::optional<ozonetel_health> oz;
    if (sources.ozonetel)
      oz = sources.ozonetel(ctx.timeout);
    rapidjson::StringBuffer buf;
    http::json_writer w{buf};
    w.StartObject();
    if (reasons.empty()) {
      write_text(w, "status", "ready");
    } else {
      write_text(w, "error", "not_ready");
      write_text(w, "message", reasons);
    }
    write_text(w, "database", db_state);
    w.Key("connections");
    w.StartArray();
    for (auto& c : conns) {
      if (details) {
        http::write_json(w, c);
        continue;
      }
      w.StartObject();
      write_text(w, "pbx", c.pbx);
      write_text(w, "state",
                 c.state == connection_state::logged_in ? "up" : "down");
      w.EndObject();
    }
    w.EndArray();
    if (sources.ozonetel)
      write_cloudagent(w, oz, details);
    if (sources.webhooks)
      write_webhooks(w, sources.webhooks(), details);
    // Shown, never a reason for not ready: AMI logging goes on without
    // it, and the gaps wait for it.
    if (sources.cdr_status) {
      w.Key("cdr_databases");
      w.StartArray();
      for (auto& c : sources.cdr_status()) {
        w.StartObject();
        write_text(w, "pbx", c.pbx);
        write_text(w, "state", c.state);
        if (details) {
          write_text(w, "last_error", c.last_error);
          w.Key("pending_gaps");
          w.Uint64(c.pending_gaps);
        }
        w.EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
    http::send_json(res, reasons.empty() ? 200 : 503,
                    {buf.GetString(), buf.GetSize()});
  }
};

} // namespace

void mount_ops_routes(http::router& r, const http_context& ctx,
                      ops_sources sources) {
  auto self = std::make_shared<ops_routes>(
      ops_routes{ctx, r.auth(), std::move(sources)});
  using http::scope;
  r.get("/api/calls/active", scope::read,
        [self](const auto& req, auto& res) { self->active_calls(req, res); });
  http::route health;
  health.method = "GET";
  health.path = "/healthz";
  health.needed = scope::none;
  health.quick = true;
  r.add(health, [](const http::request&, http::response& res) {
    http::send_json(res, 200, R"({"status":"ok"})");
  });
  // Which token this is (any valid one, an agent's too), so the console
  // offers only what it may do.
  http::route whoami;
  whoami.method = "GET";
  whoami.path = "/api/whoami";
  whoami.needed = scope::read;
  whoami.agent_route = true;
  r.add(whoami, [](const http::request& req, http::response& res) {
    rapidjson::StringBuffer buf;
    http::json_writer w{buf};
    w.StartObject();
    write_text(w, "role", req.caller_role);
    if (req.caller_role == "agent")
      write_text(w, "agent_id", req.caller_agent);
    w.EndObject();
    http::send_json(res, 200, {buf.GetString(), buf.GetSize()});
  });
  r.get("/readyz", scope::none,
        [self](const auto& req, auto& res) { self->ready(req, res); });
  http::route spec;
  spec.method = "GET";
  spec.path = "/openapi.yaml";
  spec.needed = scope::none;
  spec.quick = true;
  r.add(spec, [](const http::request&, http::response& res) {
    res.set_content(std::string{http::openapi_document()}, "application/yaml");
  });
  r.on_request_done(count);
}

} // namespace sb
