// ucid_calls, the agents half: the agents and their tokens, login / logout
// / force-ready, the durable state of every UCID, the subscription to
// CloudAgent's events and the health /readyz shows.

#include <algorithm>
#include <memory>

#include <caf/all.hpp>

#include "actors/ucid_calls_internal.hpp"
#include "adapters/store/ucid_state.hpp"
#include "core/log.hpp"
#include "core/percent.hpp"
#include "core/strings.hpp"

namespace sb::ucid_calls_detail {

using namespace std::chrono;

namespace {

ucid_reply_code code_of(const ozonetel_answer& a) {
  return a.done() ? ucid_reply_code::ok : failure_code(a);
}

agent_change_reply change_reply(ucid_reply_code code, std::string message,
                                ozonetel_agent agent = {}) {
  agent_change_reply r;
  r.code = static_cast<uint8_t>(code);
  r.message = std::move(message);
  r.agent = std::move(agent);
  return r;
}

/// The agent as it may leave the actor: no password, no hash.
ozonetel_agent public_view(const ozonetel_agent& a) {
  auto out = a;
  out.password.clear();
  out.has_token = !a.token_hash.empty();
  out.token_hash.clear();
  out.token.clear();
  return out;
}

bool valid_agent_id(const std::string& id) {
  if (id.empty() || id.size() > 64)
    return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'
           || c == '.' || c == '@';
  });
}

void sync_agents(calls_ptr self) {
  auto& st = self->state;
  std::set<std::string> ids;
  for (auto& [id, agent] : st.agents)
    if (id != st.cfg.agent_id)
      ids.insert(id);
  st.book->set_agents(std::move(ids));
}

/// Stores the agent; a configured agent's row holds only its token.
caf::expected<void> store_agent(calls_ptr self, const ozonetel_agent& a) {
  auto& st = self->state;
  if (!st.db)
    return caf::unit;
  auto row = a;
  if (row.source == "config")
    row.password.clear();
  return st.db->save_agent(row);
}

void configured_agents(calls_ptr self) {
  auto& st = self->state;
  auto now = st.clock();
  if (!st.cfg.agent_id.empty()) {
    auto& a = st.agents[st.cfg.agent_id];
    a.id = st.cfg.agent_id;
    a.password = st.cfg.agent_password;
    a.source = "config";
    a.created_at = now;
  }
  for (auto& c : st.cfg.agents) {
    auto& a = st.agents[c.id];
    a.id = c.id;
    a.name = c.name;
    a.extension = c.extension;
    if (!c.password.empty())
      a.password = c.password;
    a.source = "config";
    a.created_at = now;
  }
}

void load_agents(calls_ptr self) {
  auto& st = self->state;
  auto stored = st.db->load_agents();
  if (!stored) {
    sb::log::error(log_name, "cannot load the stored agents",
                   {{"error", to_string(stored.error())}});
    return;
  }
  for (auto& a : *stored) {
    auto i = st.agents.find(a.id);
    if (i != st.agents.end() && i->second.source == "config") {
      i->second.token_hash = a.token_hash;
      i->second.has_token = !a.token_hash.empty();
      continue;
    }
    if (a.source == "config")
      // Its section is gone: only its token row remains, not an agent.
      continue;
    st.agents[a.id] = a;
  }
}

/// After a restart: the entries of stored calls that the comms log does not
/// hold (the process died between storing a call and the writer's commit)
/// go to the matcher again. Re-sending one that did arrive is harmless --
/// the writer's key makes it a duplicate -- so when the check itself fails
/// every unconfirmed entry goes.
void resend_unwritten(calls_ptr self) {
  auto& st = self->state;
  auto ucids = st.book->unconfirmed_entries();
  if (ucids.empty())
    return;
  std::vector<completed_call> calls;
  calls.reserve(ucids.size());
  for (auto& ucid : ucids)
    calls.push_back(to_completed(*st.book->find(ucid), st.cfg.account));
  auto unwritten = st.db->ozonetel_entries_unwritten(calls);
  if (!unwritten)
    sb::log::error(log_name,
                   "cannot check the comms log for the stored calls' entries: "
                   "sending them all again",
                   {{"calls", std::to_string(calls.size())},
                    {"error", to_string(unwritten.error())}});
  std::vector<completed_call> resend;
  for (size_t i = 0; i < calls.size(); ++i) {
    if (unwritten && !(*unwritten)[i]) {
      st.book->confirm_entries(ucids[i]);
      continue;
    }
    sb::log::info(log_name, "call entry lost with the last process, sent again",
                  {{"ucid", ucids[i]}});
    resend.push_back(std::move(calls[i]));
  }
  persist(self);
  if (resend.empty())
    return;
  sb::metrics::global()
      .get_counter("switchboard_ozonetel_entries_resent_total",
                   "Call entries sent to the comms log again at start-up: "
                   "stored with their call, not found committed")
      .inc(static_cast<double>(resend.size()));
  if (st.matcher)
    self->send(st.matcher, std::move(resend));
}

void load_calls(calls_ptr self) {
  auto& st = self->state;
  auto rows = st.db->load_ucid_states();
  if (!rows) {
    sb::log::error(log_name, "cannot load the stored calls",
                   {{"error", to_string(rows.error())}});
    return;
  }
  size_t restored = 0;
  for (auto& row : *rows) {
    auto call = store::decode_ucid_call(row.state);
    if (!call) {
      sb::log::warning(log_name, "stored call unreadable, skipped",
                       {{"ucid", row.ucid}});
      continue;
    }
    st.book->restore(std::move(*call));
    ++restored;
  }
  call_effects out;
  st.book->resume(st.clock(), out);
  sb::log::info(log_name, "calls restored",
                {{"calls", std::to_string(restored)},
                 {"dispositions_resumed", std::to_string(out.dispositions.size())},
                 {"pending", std::to_string(st.book->pending_dispositions())}});
  resend_unwritten(self);
  perform(self, out);
}

} // namespace

void note_answer(calls_ptr self, const ozonetel_answer& answer) {
  if (!answer.done())
    self->state.last_error = answer.api + ": " + answer.message;
}

void persist(calls_ptr self) {
  auto& st = self->state;
  auto changed = st.book->take_changed();
  auto forgotten = st.book->take_forgotten();
  if (!st.db)
    return;
  st.unsaved.insert(changed.begin(), changed.end());
  for (auto& ucid : forgotten)
    st.unsaved.erase(ucid);
  if (st.unsaved.empty() && forgotten.empty())
    return;
  std::vector<store::ucid_state_row> rows;
  rows.reserve(st.unsaved.size());
  for (auto& ucid : st.unsaved)
    if (auto* call = st.book->find(ucid))
      rows.push_back(store::ucid_row(*call));
  auto res = st.db->save_ucid_states(rows, forgotten);
  if (!res) {
    // Kept for the next message; the calls live on in memory meanwhile.
    sb::log::error(log_name, "cannot store call state",
                   {{"calls", std::to_string(rows.size())},
                    {"error", to_string(res.error())}});
    return;
  }
  st.unsaved.clear();
}

void load_durable(calls_ptr self) {
  auto& st = self->state;
  configured_agents(self);
  if (!st.opts.db_url.empty()) {
    auto db = store::database::open(st.opts.db_url);
    if (db) {
      st.db = std::move(*db);
      load_agents(self);
    } else {
      sb::log::error(log_name,
                     "cannot open the database: calls are kept in memory only",
                     {{"error", to_string(db.error())}});
    }
  }
  sync_agents(self);
  if (st.opts.agent_tokens)
    for (auto& [id, agent] : st.agents)
      st.opts.agent_tokens->set(id, agent.token_hash);
  if (st.db)
    load_calls(self);
}

namespace {

sb::metrics::gauge& subscribed_gauge() {
  return sb::metrics::global().get_gauge(
      "switchboard_ozonetel_subscribed",
      "1 while CloudAgent holds our event subscription, else 0");
}

sb::metrics::gauge& subscribe_failures_gauge() {
  return sb::metrics::global().get_gauge(
      "switchboard_ozonetel_subscribe_failures",
      "Subscribe calls that failed in a row (0 once one succeeds); each is "
      "retried with backoff");
}

/// The Subscribe call failed: try again after the backoff, for as long as
/// it takes. Logged once per outage (and again when it ends).
void retry_subscribe(calls_ptr self, const ozonetel_answer& answer) {
  auto& st = self->state;
  ++st.subscribe_failures;
  subscribe_failures_gauge().set(static_cast<double>(st.subscribe_failures));
  auto delay = st.subscribe_backoff.next();
  st.subscribe_retry_at
      = st.clock() + duration_cast<microseconds>(delay).count();
  st.subscription = "retrying";
  st.subscription_error = answer.message;
  if (st.subscribe_failures == 1)
    sb::log::error(log_name,
                   "CloudAgent's Subscribe call failed; retrying with backoff "
                   "until it succeeds",
                   {{"outcome", to_string(answer.outcome)},
                    {"http_status", std::to_string(answer.http_status)},
                    {"message", answer.message},
                    {"answer", answer.raw},
                    {"retry_in_ms", std::to_string(delay.count())}});
  else
    sb::log::debug(log_name, "Subscribe call failed again",
                   {{"failures", std::to_string(st.subscribe_failures)},
                    {"message", answer.message},
                    {"retry_in_ms", std::to_string(delay.count())}});
  self->delayed_send(self, delay, subscribe_atom_v, st.subscribe_generation);
}

} // namespace

backoff subscribe_backoff(const ozonetel_config& cfg,
                          const ucid_calls_options& opts) {
  auto max = opts.subscribe_retry_max.count() > 0
                 ? opts.subscribe_retry_max
                 : duration_cast<milliseconds>(duration<double>{
                     std::max(1.0, cfg.subscribe_retry_max_seconds)});
  // Each delay drawn from [0.75 d, d]: many instances do not retry in step.
  return backoff{opts.subscribe_retry_initial, max, 0.25};
}

void subscribe(calls_ptr self) {
  auto& st = self->state;
  if (st.cfg.subscribe_base.empty() || st.cfg.public_url.empty())
    return;
  if (st.cfg.callback_token.empty()) {
    st.subscription = "failed";
    st.subscription_error = "ozonetel.callback_token is not set: the event "
                            "receivers need it in their URLs";
    sb::log::error(log_name, "not subscribing to CloudAgent's events",
                   {{"why", st.subscription_error}});
    return;
  }
  if (st.subscribe_in_flight)
    return;
  // A newer call replaces any retry still waiting.
  ++st.subscribe_generation;
  st.subscribe_retry_at = 0;
  if (!st.session) {
    on_subscribed(self, session_down("subscribe",
                                     "the Ozonetel session is not running"));
    return;
  }
  auto base = st.cfg.public_url;
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  auto token = "?token=" + percent_encode(st.cfg.callback_token);
  auto calls_url = base + "/api/ozonetel/events/calls" + token;
  auto agents_url = base + "/api/ozonetel/events/agents" + token;
  if (st.subscription != "retrying")
    st.subscription = "pending";
  st.subscribe_in_flight = true;
  self->request(st.session, session_timeout(self), subscribe_atom_v, calls_url,
                agents_url)
      .then(
          [self](ozonetel_answer& answer) {
            self->send(self, subscribe_atom_v, std::move(answer));
          },
          [self](caf::error& err) {
            self->send(self, subscribe_atom_v,
                       session_down("subscribe", "no answer from the session: "
                                                     + to_string(err)));
          });
}

void on_subscribe_timer(calls_ptr self, uint64_t generation) {
  if (generation == self->state.subscribe_generation)
    subscribe(self);
}

void on_subscribed(calls_ptr self, const ozonetel_answer& answer) {
  auto& st = self->state;
  st.subscribe_in_flight = false;
  st.subscribe_attempts += answer.attempts;
  note_answer(self, answer);
  if (!answer.done()) {
    subscribed_gauge().set(0);
    retry_subscribe(self, answer);
    return;
  }
  if (st.subscribe_failures > 0)
    sb::log::info(log_name, "subscribed to CloudAgent's events after failures",
                  {{"failures", std::to_string(st.subscribe_failures)},
                   {"attempts", std::to_string(st.subscribe_attempts)}});
  else
    sb::log::info(log_name, "subscribed to CloudAgent's events");
  st.subscription = "subscribed";
  st.subscription_error.clear();
  st.subscribe_failures = 0;
  st.subscribe_retry_at = 0;
  st.subscribe_backoff.reset();
  subscribed_gauge().set(1);
  subscribe_failures_gauge().set(0);
}

caf::result<ucid_reply> handle_login(calls_ptr self, const std::string& id,
                                     bool login) {
  auto& st = self->state;
  auto agent_id = st.book->agent_or_default(id);
  auto i = st.agents.find(agent_id);
  if (i == st.agents.end())
    return make_reply(ucid_reply_code::not_found, "no agent " + agent_id);
  if (!st.session)
    return make_reply(ucid_reply_code::unavailable,
                      "the Ozonetel session is not running");
  auto rp = self->make_response_promise<ucid_reply>();
  auto handler = [self, rp, login](ozonetel_answer& answer) mutable {
    note_answer(self, answer);
    auto reply = make_reply(code_of(answer),
                            (login ? "login: " : "logout: ") + answer.message);
    reply.cloudagent = std::move(answer);
    rp.deliver(std::move(reply));
  };
  auto failed = [rp](caf::error& err) mutable {
    rp.deliver(make_reply(ucid_reply_code::unavailable,
                          "no answer from the Ozonetel session: "
                              + to_string(err)));
  };
  if (login)
    self->request(st.session, session_timeout(self), login_atom_v, i->second)
        .then(handler, failed);
  else
    self->request(st.session, session_timeout(self), logout_atom_v, i->second)
        .then(handler, failed);
  return rp;
}

namespace {

/// Force Ready's second half: logout, then login.
void relog(calls_ptr self, reply_promise rp, ozonetel_agent agent,
           std::string summary) {
  auto& st = self->state;
  if (!st.session) {
    rp.deliver(make_reply(ucid_reply_code::unavailable,
                          summary + "; the Ozonetel session is not running"));
    return;
  }
  auto timeout = session_timeout(self);
  self->request(st.session, timeout, logout_atom_v, agent)
      .then(
          [self, rp, agent, summary,
           timeout](ozonetel_answer& out_answer) mutable {
            note_answer(self, out_answer);
            auto text = summary + "; logout: " + out_answer.message;
            self->request(self->state.session, timeout, login_atom_v, agent)
                .then(
                    [self, rp, text](ozonetel_answer& in_answer) mutable {
                      note_answer(self, in_answer);
                      auto reply = make_reply(code_of(in_answer),
                                              text + "; login: "
                                                  + in_answer.message);
                      reply.cloudagent = std::move(in_answer);
                      rp.deliver(std::move(reply));
                    },
                    [rp, text](caf::error& err) mutable {
                      rp.deliver(make_reply(ucid_reply_code::unavailable,
                                            text + "; login: no answer ("
                                                + to_string(err) + ")"));
                    });
          },
          [rp, summary](caf::error& err) mutable {
            rp.deliver(make_reply(ucid_reply_code::unavailable,
                                  summary + "; logout: no answer ("
                                      + to_string(err) + ")"));
          });
}

} // namespace

caf::result<ucid_reply> handle_force_ready(calls_ptr self,
                                           const std::string& id) {
  auto& st = self->state;
  auto agent_id = st.book->agent_or_default(id);
  auto i = st.agents.find(agent_id);
  if (i == st.agents.end())
    return make_reply(ucid_reply_code::not_found, "no agent " + agent_id);
  call_effects out;
  st.book->flush_dispositions(agent_id, out);
  auto dispositions = std::move(out.dispositions);
  out.dispositions.clear();
  perform(self, out);
  auto rp = self->make_response_promise<ucid_reply>();
  auto agent = i->second;
  auto left = std::make_shared<size_t>(dispositions.size());
  auto summary = std::make_shared<std::string>(
      "dispositions sent: " + std::to_string(dispositions.size()));
  if (dispositions.empty()) {
    relog(self, rp, agent, *summary);
    return rp;
  }
  // CloudAgent must hold the dispositions before the relogin clears the
  // seat: logout and login wait for every answer.
  for (auto& d : dispositions)
    send_disposition_then(
        self, std::move(d),
        [self, rp, agent, left, summary](const ozonetel_answer& a) {
          *summary += std::string{" ("} + to_string(a.outcome) + ")";
          if (--*left == 0)
            relog(self, rp, agent, *summary);
        });
  return rp;
}

std::vector<ozonetel_agent> list_agents(calls_ptr self) {
  std::vector<ozonetel_agent> out;
  for (auto& [id, agent] : self->state.agents)
    out.push_back(public_view(agent));
  return out;
}

namespace {

agent_change_reply create_agent(calls_ptr self,
                                const agent_change_request& req) {
  auto& st = self->state;
  if (!valid_agent_id(req.id))
    return change_reply(ucid_reply_code::invalid,
                        "id must be 1 to 64 letters, digits or _ - . @");
  if (st.agents.count(req.id) > 0)
    return change_reply(ucid_reply_code::conflict,
                        "agent " + req.id + " exists");
  ozonetel_agent a;
  a.id = req.id;
  a.name = req.name ? *req.name : "";
  a.extension = req.extension ? *req.extension : "";
  a.password = req.password ? *req.password : "";
  a.source = "api";
  a.token_hash = req.token_hash;
  a.created_at = a.updated_at = st.clock();
  if (auto res = store_agent(self, a); !res)
    return change_reply(ucid_reply_code::unavailable,
                        "cannot store the agent: " + to_string(res.error()));
  st.agents[a.id] = a;
  sync_agents(self);
  if (st.opts.agent_tokens)
    st.opts.agent_tokens->set(a.id, a.token_hash);
  auto shown = public_view(a);
  shown.token = req.token;
  return change_reply(ucid_reply_code::ok, "agent created", std::move(shown));
}

agent_change_reply modify_agent(calls_ptr self,
                                const agent_change_request& req) {
  auto& st = self->state;
  auto i = st.agents.find(req.id);
  if (i == st.agents.end())
    return change_reply(ucid_reply_code::not_found, "no agent " + req.id);
  auto a = i->second;
  bool configured = a.source == "config";
  switch (req.change) {
    case agent_change::update:
    case agent_change::remove:
      if (configured)
        return change_reply(ucid_reply_code::conflict,
                            "agent " + req.id
                                + " comes from the configuration file: "
                                  "change it there");
      break;
    default:
      break;
  }
  if (req.change == agent_change::remove) {
    if (st.db)
      if (auto res = st.db->delete_agent(req.id); !res)
        return change_reply(ucid_reply_code::unavailable,
                            "cannot delete the agent: "
                                + to_string(res.error()));
    st.agents.erase(i);
    sync_agents(self);
    if (st.opts.agent_tokens)
      st.opts.agent_tokens->set(req.id, {});
    return change_reply(ucid_reply_code::ok, "agent deleted", public_view(a));
  }
  if (req.name)
    a.name = *req.name;
  if (req.extension)
    a.extension = *req.extension;
  if (req.password)
    a.password = *req.password;
  if (req.change == agent_change::issue_token)
    a.token_hash = req.token_hash;
  if (req.change == agent_change::revoke_token)
    a.token_hash.clear();
  a.updated_at = st.clock();
  if (auto res = store_agent(self, a); !res)
    return change_reply(ucid_reply_code::unavailable,
                        "cannot store the agent: " + to_string(res.error()));
  i->second = a;
  if (st.opts.agent_tokens)
    st.opts.agent_tokens->set(a.id, a.token_hash);
  auto shown = public_view(a);
  if (req.change == agent_change::issue_token)
    shown.token = req.token;
  return change_reply(ucid_reply_code::ok, "agent updated", std::move(shown));
}

} // namespace

agent_change_reply change_agent(calls_ptr self,
                                const agent_change_request& req) {
  if (req.change == agent_change::create)
    return create_agent(self, req);
  return modify_agent(self, req);
}

caf::result<ozonetel_health> handle_health(calls_ptr self) {
  auto& st = self->state;
  ozonetel_health h;
  h.enabled = st.cfg.enabled();
  h.session_running = static_cast<bool>(st.session);
  h.last_error = st.last_error;
  h.subscription = st.subscription;
  h.subscription_error = st.subscription_error;
  h.subscription_attempts = st.subscribe_attempts;
  h.subscription_failures = st.subscribe_failures;
  h.subscription_retry_at = st.subscribe_retry_at;
  h.tracked_calls = static_cast<int64_t>(st.book->size());
  h.pending_dispositions = static_cast<int64_t>(st.book->pending_dispositions());
  h.agents = static_cast<int64_t>(st.agents.size());
  if (!st.session)
    return h;
  auto rp = self->make_response_promise<ozonetel_health>();
  self->request(st.session, std::chrono::seconds{2}, status_atom_v)
      .then(
          [rp, h](ozonetel_session_status& s) mutable {
            h.has_token = s.has_token;
            h.token_expires_at = s.token_expires_at;
            h.generations_last_hour = s.generations_last_hour;
            rp.deliver(h);
          },
          [rp, h](caf::error&) mutable { rp.deliver(h); });
  return rp;
}

} // namespace sb::ucid_calls_detail
