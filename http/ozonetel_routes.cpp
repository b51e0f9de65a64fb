#include "http/ozonetel_routes.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "adapters/ozonetel/callback.hpp"
#include "adapters/store/database.hpp"
#include "core/strings.hpp"
#include "core/time.hpp"
#include "http/errors.hpp"
#include "http/form.hpp"
#include "http/json.hpp"
#include "http/server.hpp"

namespace sb {

namespace {

using http::json_writer;

/// The sb::ec a failed ucid_reply stands for (its HTTP status and error
/// name follow from it).
ec error_of(ucid_reply_code code) {
  switch (code) {
    case ucid_reply_code::invalid:
      return ec::invalid;
    case ucid_reply_code::not_found:
      return ec::not_found;
    case ucid_reply_code::conflict:
      return ec::conflict;
    case ucid_reply_code::upstream:
      return ec::upstream;
    default:
      return ec::unavailable;
  }
}

bool reply_ok(ucid_reply_code code) {
  return code == ucid_reply_code::ok || code == ucid_reply_code::accepted;
}

void write_text(json_writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void write_optional(json_writer& w, const char* key, const std::string& value) {
  w.Key(key);
  if (value.empty())
    w.Null();
  else
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

// CloudAgent's answer as the API shows it: its raw body stays in the log
// (secrets removed), the caller gets the readable parts.
void write_cloudagent(json_writer& w, const ozonetel_answer& a) {
  w.Key("cloudagent");
  if (a.api.empty()) {
    w.Null();
    return;
  }
  w.StartObject();
  write_text(w, "api", a.api);
  write_text(w, "outcome", to_string(a.outcome));
  w.Key("http_status");
  w.Int(a.http_status);
  write_text(w, "status", a.status);
  write_text(w, "message", a.message);
  write_optional(w, "agent_state", a.agent_state);
  w.EndObject();
}

void write_reply_fields(json_writer& w, const ucid_reply& r) {
  write_optional(w, "ucid", r.ucid);
  write_optional(w, "state", r.state);
  write_optional(w, "disposition", r.disposition);
  write_cloudagent(w, r.cloudagent);
}

void send_reply(http::response& res, const ucid_reply& r) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  auto status = reply_ok(r.code) ? 200 : http::status_of(error_of(r.code));
  if (status >= 400) {
    // The common error shape, plus what we know of the call.
    write_text(w, "error", http::error_name_of(error_of(r.code)));
    write_text(w, "message", r.message.empty() ? to_string(r.code) : r.message);
  } else {
    write_text(w, "code", to_string(r.code));
    write_text(w, "message", r.message);
  }
  write_reply_fields(w, r);
  w.EndObject();
  http::send_json(res, status, {buf.GetString(), buf.GetSize()});
}

void write_view(json_writer& w, const ozonetel_agent_view& v) {
  write_text(w, "agent_id", v.agent_id);
  write_cloudagent(w, v.cloudagent);
  w.Key("current_call");
  if (v.current_call)
    http::write_json(w, *v.current_call);
  else
    w.Null();
  write_optional(w, "pending_outbound", v.pending_outbound);
  w.Key("awaiting_disposition");
  w.StartArray();
  for (auto& ucid : v.awaiting_disposition)
    w.String(ucid.data(), static_cast<rapidjson::SizeType>(ucid.size()));
  w.EndArray();
}

/// Placeholders a browser may put in the URL when SIP gave it no UCID.
bool no_ucid(const std::string& text) {
  return text.empty() || text == "-" || text == "_" || text == "unknown"
         || text == "none" || text == "pending" || text == "null";
}

struct ozonetel_routes {
  const http_context& ctx;
  /// Read at each request: the root supervisor may have restarted it.
  shared_handle<ucid_calls_actor> calls;
  caf::timespan timeout;

  /// Sends 503 and returns false when there is nothing to talk to.
  bool available(http::response& res) const {
    if (!ctx.config.ozonetel.enabled()) {
      http::send_error(res, 503, "unavailable",
                       "Ozonetel is not configured: set ozonetel.account and "
                       "ozonetel.api_key (SWITCHBOARD_OZONETEL_ACCOUNT, "
                       "SWITCHBOARD_OZONETEL_API_KEY)");
      return false;
    }
    if (!calls->get()) {
      http::send_error(res, 503, "unavailable",
                       "the Ozonetel call tracker is not running");
      return false;
    }
    return true;
  }

  template <class R, class... Ts>
  caf::expected<R> ask(Ts&&... xs) const {
    return http_ask<R>(ctx.system, calls->get(), timeout,
                       std::forward<Ts>(xs)...);
  }

  template <class... Ts>
  void forward(http::response& res, Ts&&... xs) const {
    auto reply = ask<ucid_reply>(std::forward<Ts>(xs)...);
    if (!reply) {
      http::send_failure(res, "the Ozonetel call tracker", reply.error());
      return;
    }
    send_reply(res, *reply);
  }

  void dial(const http::request& req, http::response& res) const {
    rapidjson::Document body;
    if (!http::parse_json_object(req, res, body))
      return;
    http::field_reader fields{body};
    auto phone = fields.string("phone_number", true, 64);
    auto customer_id = fields.integer("customer_id", false, 1);
    if (!fields.ok()) {
      fields.send(res);
      return;
    }
    if (!available(res))
      return;
    ozonetel_dial_request dial{*phone, caf::none};
    if (customer_id)
      dial.customer_id = *customer_id;
    forward(res, dial_atom_v, std::move(dial));
  }

  void events(const http::request& req, http::response& res) const {
    rapidjson::Document body;
    if (!http::parse_json_object(req, res, body))
      return;
    http::field_reader fields{body};
    auto event = fields.string("event", true, 32);
    auto x_ucid = fields.string("x_ucid", false, 128);
    auto caller = fields.string("caller", false, 64);
    auto at = fields.string("at", false, 64);
    caf::optional<unix_micros> when;
    browser_event kind = browser_event::ringing;
    if (event && !from_string(lower(*event), kind))
      fields.fail("event", "must be ringing, answered, ended or failed");
    if (at && fields.ok()) {
      when = sb::parse_iso8601(*at);
      if (!when)
        fields.fail("at", "must be an ISO-8601 date-time");
    }
    if (!fields.ok()) {
      fields.send(res);
      return;
    }
    if (!available(res))
      return;
    browser_call_event ev;
    auto path_ucid = req.path_param(1);
    ev.ucid = no_ucid(path_ucid) ? std::string{} : path_ucid;
    auto header = req.header("X-UCID");
    ev.x_ucid = x_ucid && !x_ucid->empty() ? *x_ucid : header;
    if (no_ucid(ev.x_ucid))
      ev.x_ucid.clear();
    ev.event = kind;
    if (caller)
      ev.caller = *caller;
    ev.at = when ? *when : 0;
    forward(res, browser_atom_v, std::move(ev));
  }

  void dispose(const http::request& req, http::response& res) const {
    rapidjson::Document body;
    if (!http::parse_json_object(req, res, body))
      return;
    http::field_reader fields{body};
    auto ucid = fields.string("ucid", true, 128);
    auto disposition = fields.string("disposition", true, 128);
    auto notes = fields.string("notes", false, 16384);
    auto callback_time = fields.string("callback_time", false, 32);
    if (ucid && ucid->empty())
      fields.fail("ucid", "must not be empty");
    if (disposition && disposition->empty())
      fields.fail("disposition", "must not be empty");
    if (!fields.ok()) {
      fields.send(res);
      return;
    }
    if (!available(res))
      return;
    ozonetel_dispose_request d{*ucid, *disposition, notes ? *notes : "",
                               callback_time ? *callback_time : ""};
    forward(res, dispose_atom_v, std::move(d));
  }

  void callback(const http::request& req, http::response& res) const {
    // Parse before anything else sees the payload: it carries the Apikey,
    // which the adapter removes. Never log req.body.
    ozonetel::callback_parse parsed;
    auto data
        = http::multipart_field(req.header("Content-Type"), req.body, "data");
    if (data)
      parsed = ozonetel::parse_callback_json(*data);
    else
      parsed = ozonetel::parse_callback_form(req.body);
    if (!parsed.ok) {
      http::send_error(res, 422, "invalid_field", "data: " + parsed.error);
      return;
    }
    if (!available(res))
      return;
    auto m = std::move(parsed.details);
    m.received_at = now_micros();
    forward(res, callback_atom_v, std::move(m));
  }

  void get_agent_state(const http::request&, http::response& res) const {
    if (!available(res))
      return;
    auto view = ask<ozonetel_agent_view>(agent_state_atom_v);
    if (!view) {
      http::send_failure(res, "the Ozonetel call tracker", view.error());
      return;
    }
    auto& a = view->cloudagent;
    int status = a.done() ? 200
                 : a.outcome == ozonetel_outcome::unavailable
                         || a.outcome == ozonetel_outcome::rate_limited
                     ? 503
                     : 502;
    rapidjson::StringBuffer buf;
    json_writer w{buf};
    w.StartObject();
    if (status != 200) {
      // Our view is still worth showing next to the error.
      write_text(w, "error", status == 503 ? "unavailable" : "upstream");
      write_text(w, "message",
                 "CloudAgent did not tell the agent's state: " + a.message);
    }
    write_view(w, *view);
    w.EndObject();
    http::send_json(res, status, {buf.GetString(), buf.GetSize()});
  }

  void post_agent_state(const http::request& req, http::response& res) const {
    rapidjson::Document body;
    if (!http::parse_json_object(req, res, body))
      return;
    http::field_reader fields{body};
    auto state = fields.string("state", true, 16);
    auto reason = fields.string("pause_reason", false, 128);
    if (!reason)
      reason = fields.string("pauseReason", false, 128);
    if (state) {
      auto s = lower(*state);
      if (s != "ready" && s != "pause")
        fields.fail("state", "must be Ready or Pause");
    }
    if (!fields.ok()) {
      fields.send(res);
      return;
    }
    if (!available(res))
      return;
    forward(res, agent_state_atom_v, *state, reason ? *reason : std::string{});
  }
};

} // namespace

void mount_ozonetel_routes(http::router& routes, const http_context& ctx,
                           ucid_calls_actor calls) {
  mount_ozonetel_routes(routes, ctx, make_shared_handle(std::move(calls)));
}

void mount_ozonetel_routes(http::router& routes, const http_context& ctx,
                           shared_handle<ucid_calls_actor> calls) {
  // A dial or a disposition may wait for a token and a retry or two at
  // CloudAgent: give them longer than the API's default.
  auto budget = std::chrono::duration<double>{
      std::max(1.0, ctx.config.ozonetel.request_timeout_seconds) * 3 + 5};
  auto timeout = std::max(ctx.timeout,
                          std::chrono::duration_cast<caf::timespan>(budget));
  auto self = std::make_shared<ozonetel_routes>(
      ozonetel_routes{ctx, std::move(calls), timeout});
  using http::scope;
  routes.post("/api/ozonetel/dial", scope::write,
              [self](const auto& req, auto& res) { self->dial(req, res); });
  routes.post("/api/ozonetel/calls/{ucid}/events", scope::write,
              [self](const auto& req, auto& res) { self->events(req, res); });
  routes.post("/api/ozonetel/dispose", scope::write,
              [self](const auto& req, auto& res) { self->dispose(req, res); });
  http::route callback;
  callback.method = "POST";
  callback.path = "/api/ozonetel/callback";
  callback.needed = scope::write;
  callback.accepts
      = {"application/x-www-form-urlencoded", "multipart/form-data"};
  // CloudAgent cannot add headers: its callback URL carries the token. Only
  // the URL's query counts, never a field of the form body.
  auto token = ctx.config.ozonetel.callback_token;
  callback.alternative_auth = [token](const http::request& req) {
    return !token.empty() && req.has_param("token")
           && http::constant_time_equals(req.param("token"), token);
  };
  routes.add(std::move(callback),
             [self](const auto& req, auto& res) { self->callback(req, res); });
  // The disposition form lists what configuration maps to the campaign.
  auto cfg = ctx.config.ozonetel;
  routes.get("/api/ozonetel/dispositions", scope::read,
             [cfg](const http::request&, http::response& res) {
               rapidjson::StringBuffer buf;
               json_writer w{buf};
               w.StartObject();
               w.Key("dispositions");
               w.StartArray();
               for (const auto& [internal, campaign] : cfg.disposition_map) {
                 w.StartObject();
                 write_text(w, "name", internal);
                 write_text(w, "campaign", campaign);
                 w.EndObject();
               }
               w.EndArray();
               write_text(w, "default", cfg.default_disposition);
               w.EndObject();
               http::send_json(res, 200, {buf.GetString(), buf.GetSize()});
             });
  routes.get(
      "/api/ozonetel/agent-state", scope::read,
      [self](const auto& req, auto& res) { self->get_agent_state(req, res); });
  routes.post(
      "/api/ozonetel/agent-state", scope::write,
      [self](const auto& req, auto& res) { self->post_agent_state(req, res); });
}

} // namespace sb
