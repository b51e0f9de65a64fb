#include "http/ozonetel_routes.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "adapters/ozonetel/callback.hpp"
#include "adapters/store/database.hpp"
#include "core/strings.hpp"
#include "core/time.hpp"
#include "core/time_zone.hpp"
#include "http/errors.hpp"
#include "http/ozonetel_common.hpp"
#include "http/form.hpp"
#include "http/json.hpp"
#include "http/server.hpp"

namespace sb {

namespace {

using http::json_writer;
using namespace ozonetel_http;

/// Placeholders a browser may put in the URL when SIP gave it no UCID.
bool no_ucid(const std::string& text) {
  return text.empty() || text == "-" || text == "_" || text == "unknown"
         || text == "none" || text == "pending" || text == "null";
}

struct ozonetel_routes : routes_base {
  void dial(const http::request& req, http::response& res) const {
    rapidjson::Document body;
    if (!http::parse_json_object(req, res, body))
      return;
    http::field_reader fields{body};
    // The seed's browser code sends phoneNumber; ours phone_number.
    auto phone = fields.string("phone_number", false, 64);
    if (!phone)
      phone = fields.string("phoneNumber", false, 64);
    if (!phone && fields.ok())
      fields.fail("phone_number", "is required (or phoneNumber)");
    auto customer_id = fields.integer("customer_id", false, 1);
    auto named = fields.string("agent_id", false, 64);
    if (!fields.ok()) {
      fields.send(res);
      return;
    }
    std::string agent;
    if (!acting_agent(req, res, named ? *named : "", agent))
      return;
    if (!available(res))
      return;
    ozonetel_dial_request dial{*phone, caf::none, agent};
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
    auto named = fields.string("agent_id", false, 64);
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
    std::string agent;
    if (!acting_agent(req, res, named ? *named : "", agent))
      return;
    if (!available(res))
      return;
    browser_call_event ev;
    ev.agent_id = agent;
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
    auto named = fields.string("agent_id", false, 64);
    // The seed's fields: fallbacks for a call we know nothing better of,
    // and the CRM's lead as the entry's reference.
    auto caller_phone = fields.string("callerPhone", false, 64);
    auto direction = fields.string("direction", false, 16);
    auto duration = fields.integer("durationSec", false, 0, 86400 * 7);
    auto lead = fields.string("leadId", false, 256);
    if (direction && !direction->empty()) {
      auto d = lower(*direction);
      if (d != "inbound" && d != "outbound")
        fields.fail("direction", "must be inbound or outbound");
    }
    if (ucid && ucid->empty())
      fields.fail("ucid", "must not be empty");
    if (disposition && disposition->empty())
      fields.fail("disposition", "must not be empty");
    if (!fields.ok()) {
      fields.send(res);
      return;
    }
    std::string agent;
    if (!acting_agent(req, res, named ? *named : "", agent))
      return;
    if (!available(res))
      return;
    ozonetel_dispose_request d{*ucid, *disposition, notes ? *notes : "",
                               callback_time ? *callback_time : ""};
    d.agent_id = agent;
    if (caller_phone)
      d.caller_phone = *caller_phone;
    if (direction)
      d.direction = lower(*direction);
    if (duration)
      d.duration_seconds = *duration;
    if (lead)
      d.lead_id = *lead;
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
    // StartTime / EndTime are the account's local time: a retried callback
    // keeps the call's own times instead of its arrival. The zone was
    // checked when the configuration was read.
    if (auto zone = time_zone::get(ctx.config.ozonetel.timezone)) {
      if (auto t = parse_local_time(m.start_time, **zone))
        m.started_at = *t;
      if (auto t = parse_local_time(m.end_time, **zone))
        m.ended_at = *t;
    }
    forward(res, callback_atom_v, std::move(m));
  }

  void get_agent_state(const http::request& req, http::response& res) const {
    std::string agent;
    auto named = req.path_param(1);
    if (named.empty())
      named = req.param("agent_id");
    if (!acting_agent(req, res, named, agent))
      return;
    if (!available(res))
      return;
    auto view = ask<ozonetel_agent_view>(agent_state_atom_v, agent);
    if (!view) {
      http::send_failure(res, "the Ozonetel call tracker", view.error());
      return;
    }
    if (!view->known) {
      http::send_error(res, 404, "not_found", "no agent " + view->agent_id);
      return;
    }
    send_view(res, *view);
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
    auto named = fields.string("agent_id", false, 64);
    if (state) {
      auto s = lower(*state);
      if (s != "ready" && s != "pause")
        fields.fail("state", "must be Ready or Pause");
    }
    if (!fields.ok()) {
      fields.send(res);
      return;
    }
    std::string agent;
    if (!acting_agent(req, res, named ? *named : req.path_param(1), agent))
      return;
    if (!available(res))
      return;
    forward(res, agent_state_atom_v, agent, *state,
            reason ? *reason : std::string{});
  }
};

} // namespace

namespace {

void send_dispositions(const ozonetel_config& cfg, http::response& res) {
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
}

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
      ozonetel_routes{{ctx, calls, timeout}});
  using http::scope;
  // The agent's own routes: an agent token is accepted (held to its agent).
  auto agent_route = [&routes](const char* method, const char* path,
                               scope needed, http::handler h) {
    http::route r;
    r.method = method;
    r.path = path;
    r.needed = needed;
    r.agent_route = true;
    if (std::string{method} == "POST")
      r.accepts = {"application/json"};
    routes.add(std::move(r), std::move(h));
  };
  agent_route("POST", "/api/ozonetel/dial", scope::write,
              [self](const auto& req, auto& res) { self->dial(req, res); });
  agent_route("POST", "/api/ozonetel/calls/{ucid}/events", scope::write,
              [self](const auto& req, auto& res) { self->events(req, res); });
  agent_route("POST", "/api/ozonetel/dispose", scope::write,
              [self](const auto& req, auto& res) { self->dispose(req, res); });
  agent_route(
      "GET", "/api/ozonetel/agents/{id}/state", scope::read,
      [self](const auto& req, auto& res) { self->get_agent_state(req, res); });
  agent_route(
      "POST", "/api/ozonetel/agents/{id}/state", scope::write,
      [self](const auto& req, auto& res) { self->post_agent_state(req, res); });
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
  agent_route("GET", "/api/ozonetel/dispositions", scope::read,
              [cfg = ctx.config.ozonetel](const http::request&,
                                          http::response& res) {
                send_dispositions(cfg, res);
              });
  agent_route(
      "GET", "/api/ozonetel/agent-state", scope::read,
      [self](const auto& req, auto& res) { self->get_agent_state(req, res); });
  agent_route(
      "POST", "/api/ozonetel/agent-state", scope::write,
      [self](const auto& req, auto& res) { self->post_agent_state(req, res); });
  ozonetel_http::mount_agent_routes(routes, *self);
}

} // namespace sb
