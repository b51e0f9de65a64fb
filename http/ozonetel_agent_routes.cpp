// The agents' endpoints (docs/openapi.yaml, tag ozonetel): agents and their
// tokens, login / logout / force-ready, CloudAgent's event receivers
// (Subscribe API).

#include <memory>

#include "adapters/ozonetel/agent_token.hpp"
#include "adapters/ozonetel/events.hpp"
#include "core/strings.hpp"
#include "core/time.hpp"
#include "core/time_zone.hpp"
#include "http/errors.hpp"
#include "http/form.hpp"
#include "http/json.hpp"
#include "http/ozonetel_common.hpp"

namespace sb::ozonetel_http {

namespace {

using http::json_writer;
using http::scope;

void write_agent(json_writer& w, const ozonetel_agent& a) {
  write_text(w, "id", a.id);
  write_text(w, "name", a.name);
  write_text(w, "extension", a.extension);
  write_text(w, "source", a.source);
  w.Key("has_token");
  w.Bool(a.has_token);
  w.Key("has_password");
  w.Bool(!a.password.empty());
  write_time(w, "created_at", a.created_at);
  write_time(w, "updated_at", a.updated_at);
}

void send_agent(http::response& res, int status, const ozonetel_agent& a) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  write_agent(w, a);
  if (!a.token.empty())
    // Shown this once: only its hash is stored.
    write_text(w, "token", a.token);
  w.EndObject();
  http::send_json(res, status, {buf.GetString(), buf.GetSize()});
}

struct agent_routes {
  routes_base base;

  void list(const http::request&, http::response& res) const {
    if (!base.available(res))
      return;
    auto agents = base.ask<std::vector<ozonetel_agent>>(agents_atom_v);
    if (!agents) {
      http::send_failure(res, "the Ozonetel call tracker", agents.error());
      return;
    }
    rapidjson::StringBuffer buf;
    json_writer w{buf};
    w.StartObject();
    w.Key("agents");
    w.StartArray();
    for (auto& a : *agents) {
      w.StartObject();
      write_agent(w, a);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    http::send_json(res, 200, {buf.GetString(), buf.GetSize()});
  }

  void get(const http::request& req, http::response& res) const {
    std::string id;
    if (!acting_agent(req, res, req.path_param(1), id))
      return;
    if (!base.available(res))
      return;
    auto agents = base.ask<std::vector<ozonetel_agent>>(agents_atom_v);
    if (!agents) {
      http::send_failure(res, "the Ozonetel call tracker", agents.error());
      return;
    }
    for (auto& a : *agents)
      if (a.id == id) {
        send_agent(res, 200, a);
        return;
      }
    http::send_error(res, 404, "not_found", "no agent " + id);
  }

  /// Sends the change to ucid_calls and renders its answer.
  void change(http::response& res, agent_change_request req,
              int ok_status) const {
    if (!base.available(res))
      return;
    auto reply = base.ask<agent_change_reply>(agents_atom_v, std::move(req));
    if (!reply) {
      http::send_failure(res, "the Ozonetel call tracker", reply.error());
      return;
    }
    auto code = static_cast<ucid_reply_code>(reply->code);
    if (!reply_ok(code)) {
      auto e = error_of(code);
      http::send_error(res, http::status_of(e), http::error_name_of(e),
                       reply->message);
      return;
    }
    send_agent(res, ok_status, reply->agent);
  }

  static void issue(agent_change_request& req) {
    req.token = ozonetel::new_agent_token();
    req.token_hash = ozonetel::token_hash(req.token);
  }

  void create(const http::request& req, http::response& res) const {
    rapidjson::Document body;
    if (!http::parse_json_object(req, res, body))
      return;
    http::field_reader fields{body};
    auto id = fields.string("id", true, 64);
    auto name = fields.string("name", false, 256);
    auto extension = fields.string("extension", false, 64);
    auto password = fields.string("password", false, 256);
    if (id && id->empty())
      fields.fail("id", "must not be empty");
    if (!fields.ok()) {
      fields.send(res);
      return;
    }
    agent_change_request change_req;
    change_req.change = agent_change::create;
    change_req.id = *id;
    change_req.name = name ? caf::optional<std::string>{*name} : caf::none;
    change_req.extension
        = extension ? caf::optional<std::string>{*extension} : caf::none;
    change_req.password
        = password ? caf::optional<std::string>{*password} : caf::none;
    issue(change_req);
    change(res, std::move(change_req), 201);
  }

  void patch(const http::request& req, http::response& res) const {
    rapidjson::Document body;
    if (!http::parse_json_object(req, res, body))
      return;
    http::field_reader fields{body};
    auto name = fields.string("name", false, 256);
    auto extension = fields.string("extension", false, 64);
    auto password = fields.string("password", false, 256);
    if (!fields.ok()) {
      fields.send(res);
      return;
    }
    agent_change_request change_req;
    change_req.change = agent_change::update;
    change_req.id = req.path_param(1);
    change_req.name = name ? caf::optional<std::string>{*name} : caf::none;
    change_req.extension
        = extension ? caf::optional<std::string>{*extension} : caf::none;
    change_req.password
        = password ? caf::optional<std::string>{*password} : caf::none;
    change(res, std::move(change_req), 200);
  }

  void simple(const http::request& req, http::response& res, agent_change what,
              int ok_status) const {
    agent_change_request change_req;
    change_req.change = what;
    change_req.id = req.path_param(1);
    if (what == agent_change::issue_token)
      issue(change_req);
    change(res, std::move(change_req), ok_status);
  }

  template <class Atom>
  void act(const http::request& req, http::response& res, Atom atom) const {
    std::string id;
    if (!acting_agent(req, res, req.path_param(1), id))
      return;
    if (!base.available(res))
      return;
    base.forward(res, atom, id);
  }

  /// The account's zone (checked when the configuration was read; IST,
  /// CloudAgent's home, should it ever fail to load).
  std::shared_ptr<const time_zone> zone() const {
    auto z = time_zone::get(base.ctx.config.ozonetel.timezone);
    return z ? *z : time_zone::fixed(19800, "+05:30");
  }

  void call_event(const http::request& req, http::response& res) const {
    auto parsed = ozonetel::parse_call_event(req.body, *zone());
    if (!parsed.ok) {
      http::send_error(res, 422, "invalid_field", parsed.error);
      return;
    }
    if (!base.available(res))
      return;
    parsed.event.received_at = now_micros();
    base.forward(res, call_event_atom_v, std::move(parsed.event));
  }

  void agent_event(const http::request& req, http::response& res) const {
    auto parsed = ozonetel::parse_agent_event(req.body, *zone());
    if (!parsed.ok) {
      http::send_error(res, 422, "invalid_field", parsed.error);
      return;
    }
    if (!base.available(res))
      return;
    parsed.event.received_at = now_micros();
    base.forward(res, agent_event_atom_v, std::move(parsed.event));
  }
};

} // namespace

void mount_agent_routes(http::router& routes, const routes_base& base) {
  auto self = std::make_shared<agent_routes>(agent_routes{base});
  auto add = [&routes](const char* method, const char* path, scope needed,
                       bool agent_route, bool json_body, http::handler h) {
    http::route r;
    r.method = method;
    r.path = path;
    r.needed = needed;
    r.agent_route = agent_route;
    if (json_body)
      r.accepts = {"application/json"};
    routes.add(std::move(r), std::move(h));
  };
  add("GET", "/api/ozonetel/agents", scope::write, false, false,
      [self](const auto& req, auto& res) { self->list(req, res); });
  add("POST", "/api/ozonetel/agents", scope::write, false, true,
      [self](const auto& req, auto& res) { self->create(req, res); });
  add("GET", "/api/ozonetel/agents/{id}", scope::read, true, false,
      [self](const auto& req, auto& res) { self->get(req, res); });
  add("PATCH", "/api/ozonetel/agents/{id}", scope::write, false, true,
      [self](const auto& req, auto& res) { self->patch(req, res); });
  add("DELETE", "/api/ozonetel/agents/{id}", scope::write, false, false,
      [self](const auto& req, auto& res) {
        self->simple(req, res, agent_change::remove, 200);
      });
  add("POST", "/api/ozonetel/agents/{id}/token", scope::write, false, false,
      [self](const auto& req, auto& res) {
        self->simple(req, res, agent_change::issue_token, 201);
      });
  add("DELETE", "/api/ozonetel/agents/{id}/token", scope::write, false, false,
      [self](const auto& req, auto& res) {
        self->simple(req, res, agent_change::revoke_token, 200);
      });
  add("POST", "/api/ozonetel/agents/{id}/login", scope::write, true, false,
      [self](const auto& req, auto& res) {
        self->act(req, res, login_atom_v);
      });
  add("POST", "/api/ozonetel/agents/{id}/logout", scope::write, true, false,
      [self](const auto& req, auto& res) {
        self->act(req, res, logout_atom_v);
      });
  add("POST", "/api/ozonetel/agents/{id}/force-ready", scope::write, true,
      false, [self](const auto& req, auto& res) {
        self->act(req, res, force_ready_atom_v);
      });
  // CloudAgent's Subscribe API posts here; like the callback it cannot add
  // headers, so the URL it was given carries ozonetel.callback_token.
  auto token = base.ctx.config.ozonetel.callback_token;
  auto url_token = [token](const http::request& req) {
    return !token.empty() && req.has_param("token")
           && http::constant_time_equals(req.param("token"), token);
  };
  for (auto [path, is_call] :
       {std::pair{"/api/ozonetel/events/calls", true},
        std::pair{"/api/ozonetel/events/agents", false}}) {
    http::route r;
    r.method = "POST";
    r.path = path;
    r.needed = scope::write;
    r.accepts = {"application/json"};
    r.alternative_auth = url_token;
    routes.add(std::move(r), [self, is_call = is_call](const auto& req,
                                                       auto& res) {
      if (is_call)
        self->call_event(req, res);
      else
        self->agent_event(req, res);
    });
  }
}

} // namespace sb::ozonetel_http
