#include "actors/ozonetel_session.hpp"

#include <algorithm>
#include <random>

#include <caf/all.hpp>

#include "core/log.hpp"

namespace sb {

namespace {

using session_ptr
    = ozonetel_session_actor::stateful_pointer<ozonetel_session_state>;
using time_point = ozonetel_session_state::time_point;
using namespace std::chrono;

constexpr const char* log_name = "ozonetel_session";

ozonetel_answer to_answer(const ozonetel::result& r, int attempts) {
  ozonetel_answer a;
  a.api = ozonetel::to_string(r.which);
  a.outcome = r.what;
  a.http_status = r.http_status;
  a.status = r.status;
  a.message = r.message;
  a.raw = r.raw;
  a.ucid = r.ucid;
  a.agent_state = r.agent_state;
  a.attempts = attempts;
  return a;
}

ozonetel_answer local_answer(ozonetel::api which, ozonetel_outcome outcome,
                             std::string message) {
  ozonetel_answer a;
  a.api = ozonetel::to_string(which);
  a.outcome = outcome;
  a.message = std::move(message);
  return a;
}

void count_request(const std::string& api, ozonetel_outcome outcome) {
  sb::metrics::global()
      .get_counter("switchboard_ozonetel_requests_total",
                   "CloudAgent REST calls by API and outcome (every HTTP "
                   "attempt, retries included)",
                   {{"api", api}, {"outcome", to_string(outcome)}})
      .inc();
}

sb::metrics::counter& token_generations_counter() {
  return sb::metrics::global().get_counter(
      "switchboard_ozonetel_token_generations_total",
      "CloudAgent API tokens requested (CloudAgent allows 10 per hour)");
}

sb::metrics::gauge& token_generations_hour_gauge() {
  return sb::metrics::global().get_gauge(
      "switchboard_ozonetel_token_generations_last_hour",
      "CloudAgent API tokens requested in the last rolling hour");
}

time_point now(session_ptr self) {
  return self->state.opts.clock();
}

void update_hour_gauge(session_ptr self) {
  token_generations_hour_gauge().set(
      static_cast<double>(self->state.ledger->count(now(self))));
}

bool token_usable(session_ptr self) {
  auto& st = self->state;
  return !st.token.empty() && now(self) < st.token_expires;
}

milliseconds backoff(const ozonetel_session_options& opts, int attempt) {
  auto delay = opts.backoff_initial;
  for (int i = 1; i < attempt && delay < opts.backoff_max; ++i)
    delay *= 2;
  delay = std::min(delay, opts.backoff_max);
  // Jitter keeps many retrying callers from hitting CloudAgent in step.
  static thread_local std::minstd_rand rng{std::random_device{}()};
  std::uniform_int_distribution<int64_t> jitter{0, delay.count() / 5};
  return delay + milliseconds{jitter(rng)};
}

void finish(session_ptr self, uint64_t id, ozonetel_answer answer) {
  auto& st = self->state;
  auto i = st.requests.find(id);
  if (i == st.requests.end())
    return;
  auto& req = i->second;
  if (!answer.done())
    sb::log::warning(log_name, "CloudAgent call failed",
                     {{"api", answer.api},
                      {"outcome", to_string(answer.outcome)},
                      {"http_status", std::to_string(answer.http_status)},
                      {"attempts", std::to_string(answer.attempts)},
                      {"message", answer.message},
                      {"answer", answer.raw}});
  else
    sb::log::debug(log_name, "CloudAgent call done",
                   {{"api", answer.api},
                    {"outcome", to_string(answer.outcome)},
                    {"attempts", std::to_string(answer.attempts)}});
  req.promise.deliver(std::move(answer));
  st.requests.erase(i);
}

void launch(session_ptr self, uint64_t id);
void start_fetch(session_ptr self);

void pump(session_ptr self) {
  auto& st = self->state;
  while (st.in_flight < st.opts.max_in_flight && !st.ready.empty()) {
    auto id = st.ready.front();
    st.ready.pop_front();
    if (st.requests.count(id) == 0)
      continue;
    if (!token_usable(self)) {
      // The token expired while this request queued for a worker.
      st.waiting_for_token.push_back(id);
      start_fetch(self);
      continue;
    }
    launch(self, id);
  }
}

void schedule(session_ptr self, uint64_t id) {
  auto& st = self->state;
  if (token_usable(self)) {
    // Near expiry: fetch the next token now, but keep using this one (still
    // valid) instead of making the request wait.
    if (now(self) >= st.token_renew_at && !st.fetching)
      start_fetch(self);
    st.ready.push_back(id);
    pump(self);
  } else {
    st.waiting_for_token.push_back(id);
    if (!st.fetching)
      start_fetch(self);
  }
}

void fail_waiting(session_ptr self, ozonetel_outcome outcome,
                  const std::string& message) {
  auto& st = self->state;
  auto waiting = std::move(st.waiting_for_token);
  st.waiting_for_token.clear();
  for (auto id : waiting) {
    auto i = st.requests.find(id);
    if (i == st.requests.end())
      continue;
    auto answer = local_answer(i->second.which, outcome, message);
    answer.attempts = i->second.attempts;
    finish(self, id, std::move(answer));
  }
}

void release_waiting(session_ptr self) {
  auto& st = self->state;
  for (auto id : st.waiting_for_token)
    st.ready.push_back(id);
  st.waiting_for_token.clear();
  pump(self);
}

void spawn_worker(session_ptr self, uint64_t id,
                  ozonetel_session_state::call_fn call, std::string token,
                  int attempt) {
  auto client = self->state.client;
  auto session = caf::actor_cast<ozonetel_session_actor>(self);
  // Blocking HTTP runs on its own thread: the actor keeps serving its mailbox.
  self->spawn<caf::detached>([client, session, id, attempt,
                              call = std::move(call),
                              token = std::move(token)](caf::blocking_actor*) {
    auto r = call(*client, token);
    ozonetel_attempt result;
    result.request_id = id;
    result.answer = to_answer(r, attempt);
    result.connect_failed = r.connect_failed;
    result.token = std::move(r.token);
    result.token_expires_at = r.token_expires_at;
    result.token_lifetime_seconds = r.token_lifetime_seconds;
    caf::anon_send(session, std::move(result));
  });
}

void launch(session_ptr self, uint64_t id) {
  auto& st = self->state;
  auto& req = st.requests.at(id);
  ++req.attempts;
  req.token_serial = st.token_serial;
  ++st.in_flight;
  spawn_worker(self, id, req.call, st.token, req.attempts);
}

void start_fetch(session_ptr self) {
  auto& st = self->state;
  if (st.fetching)
    return;
  if (!st.ledger->try_record(now(self), st.opts.max_tokens_per_hour)) {
    update_hour_gauge(self);
    if (token_usable(self)) {
      // Renewal has to wait for the window; the current token still works.
      release_waiting(self);
      return;
    }
    auto next
        = duration_cast<seconds>(st.ledger->next_room(now(self)) - now(self))
              .count();
    sb::log::error(
        log_name, "token limit reached, not generating another",
        {{"limit_per_hour", std::to_string(st.opts.max_tokens_per_hour)},
         {"next_in_seconds", std::to_string(next)}});
    fail_waiting(
        self, ozonetel_outcome::rate_limited,
        "CloudAgent allows " + std::to_string(st.opts.max_tokens_per_hour)
            + " tokens per hour and they are spent; the next token can "
              "be generated in "
            + std::to_string(next) + " s");
    return;
  }
  st.fetching = true;
  ++st.generations_total;
  token_generations_counter().inc();
  update_hour_gauge(self);
  spawn_worker(
      self, 0,
      [](const ozonetel::client& c, const std::string&) {
        return c.generate_token();
      },
      {}, st.fetch_failures + 1);
}

void on_token(session_ptr self, ozonetel_attempt& attempt) {
  auto& st = self->state;
  st.fetching = false;
  count_request(attempt.answer.api, attempt.answer.outcome);
  if (attempt.answer.outcome == ozonetel_outcome::ok
      && !attempt.token.empty()) {
    auto issued = now(self);
    st.token = std::move(attempt.token);
    ++st.token_serial;
    st.fetch_failures = 0;
    // exp - iat is immune to clock skew; exp alone is read on our clock.
    seconds lifetime{0};
    if (attempt.token_lifetime_seconds > 0)
      lifetime = seconds{attempt.token_lifetime_seconds};
    else if (attempt.token_expires_at > 0)
      lifetime = duration_cast<seconds>(
          time_point{seconds{attempt.token_expires_at}} - issued);
    bool from_jwt = lifetime > seconds{0} && lifetime <= hours{24};
    if (!from_jwt) {
      if (attempt.token_expires_at > 0)
        sb::log::warning(log_name,
                         "token expiry unusable (clock skew?), assuming the "
                         "default lifetime",
                         {{"default_seconds",
                           std::to_string(st.opts.token_lifetime.count())}});
      lifetime = st.opts.token_lifetime;
    }
    st.token_expires = issued + lifetime;
    auto margin = std::min<seconds>(st.opts.renew_margin, lifetime / 12);
    st.token_renew_at = st.token_expires - margin;
    sb::log::info(
        log_name, "token generated",
        {{"expires_in_seconds", std::to_string(lifetime.count())},
         {"from_jwt", from_jwt ? "yes" : "no"},
         {"generations_last_hour", std::to_string(st.ledger->count(issued))}});
    release_waiting(self);
    return;
  }
  auto& answer = attempt.answer;
  sb::log::error(log_name, "generateToken failed",
                 {{"outcome", to_string(answer.outcome)},
                  {"http_status", std::to_string(answer.http_status)},
                  {"message", answer.message},
                  {"answer", answer.raw}});
  bool retry = (answer.outcome == ozonetel_outcome::server_error
                || answer.outcome == ozonetel_outcome::network_error
                || answer.outcome == ozonetel_outcome::malformed)
               && st.fetch_failures + 1 < st.opts.max_attempts;
  if (retry) {
    ++st.fetch_failures;
    self->delayed_send(self, backoff(st.opts, st.fetch_failures),
                       token_atom_v);
    return;
  }
  st.fetch_failures = 0;
  if (token_usable(self)) {
    release_waiting(self);
    return;
  }
  auto message = "generateToken failed: " + answer.message;
  if (answer.outcome == ozonetel_outcome::unauthorized
      || answer.outcome == ozonetel_outcome::rejected)
    message += " (check ozonetel.account and ozonetel.api_key)";
  fail_waiting(self, answer.outcome, message);
}

void on_attempt(session_ptr self, ozonetel_attempt& attempt) {
  auto& st = self->state;
  if (st.in_flight > 0)
    --st.in_flight;
  auto id = attempt.request_id;
  auto& answer = attempt.answer;
  count_request(answer.api, answer.outcome);
  auto i = st.requests.find(id);
  if (i == st.requests.end()) {
    pump(self);
    return;
  }
  auto& req = i->second;
  if (answer.outcome == ozonetel_outcome::unauthorized && !req.reauthorized) {
    // Once per request: renew the token (unless a newer one already
    // replaced the rejected one) and send the request again.
    req.reauthorized = true;
    if (req.token_serial == st.token_serial) {
      sb::log::info(log_name, "token refused by CloudAgent, renewing",
                    {{"api", answer.api}, {"message", answer.message}});
      st.token.clear();
    }
    schedule(self, id);
    pump(self);
    return;
  }
  bool transient = answer.outcome == ozonetel_outcome::server_error
                   || answer.outcome == ozonetel_outcome::network_error;
  if (transient && req.attempts < st.opts.max_attempts
      && (req.idempotent || attempt.connect_failed)) {
    auto delay = backoff(st.opts, req.attempts);
    sb::log::info(log_name, "CloudAgent call failed, retrying",
                  {{"api", answer.api},
                   {"outcome", to_string(answer.outcome)},
                   {"attempt", std::to_string(req.attempts)},
                   {"delay_ms", std::to_string(delay.count())}});
    self->delayed_send(self, delay, retry_atom_v, id);
    pump(self);
    return;
  }
  finish(self, id, std::move(answer));
  pump(self);
}

caf::typed_response_promise<ozonetel_answer>
submit(session_ptr self, ozonetel::api which, bool idempotent,
       ozonetel_session_state::call_fn call) {
  auto& st = self->state;
  auto promise = self->make_response_promise<ozonetel_answer>();
  if (!st.cfg.enabled()) {
    promise.deliver(local_answer(which, ozonetel_outcome::unavailable,
                                 "no Ozonetel account configured (set "
                                 "ozonetel.account and ozonetel.api_key)"));
    return promise;
  }
  auto id = st.next_id++;
  auto& req = st.requests[id];
  req.which = which;
  req.call = std::move(call);
  req.promise = promise;
  req.idempotent = idempotent;
  schedule(self, id);
  return promise;
}

using answer_promise = caf::typed_response_promise<ozonetel_answer>;

ozonetel::settings client_settings(const ozonetel_config& cfg) {
  ozonetel::settings settings;
  settings.api_base = cfg.api_base;
  settings.account = cfg.account;
  settings.api_key = cfg.api_key;
  settings.agent_id = cfg.agent_id;
  settings.agent_password = cfg.agent_password;
  settings.campaign = cfg.campaign;
  settings.did = cfg.did;
  settings.timeout_seconds = cfg.request_timeout_seconds;
  settings.connect_timeout_seconds = std::min(5.0, cfg.request_timeout_seconds);
  return settings;
}

answer_promise on_dial(session_ptr self, const std::string& customer_number) {
  sb::metrics::message_probe probe{*self->state.metrics,
                                   self->mailbox().size()};
  // A dial is not idempotent: retried only when it never left this host.
  return submit(
      self, ozonetel::api::manual_dial, false,
      [customer_number](const ozonetel::client& c, const std::string& token) {
        return c.manual_dial(token, customer_number);
      });
}

answer_promise on_dial_as(session_ptr self, const std::string& agent_id,
                          const std::string& customer_number) {
  sb::metrics::message_probe probe{*self->state.metrics,
                                   self->mailbox().size()};
  return submit(self, ozonetel::api::manual_dial, false,
                [agent_id, customer_number](const ozonetel::client& c,
                                            const std::string& token) {
                  return c.manual_dial_as(token, agent_id, customer_number);
                });
}

answer_promise on_agent_auth(session_ptr self, bool login,
                             const ozonetel_agent& agent) {
  sb::metrics::message_probe probe{*self->state.metrics,
                                   self->mailbox().size()};
  auto which
      = login ? ozonetel::api::agent_login : ozonetel::api::agent_logout;
  if (agent.password.empty()) {
    auto promise = self->make_response_promise<ozonetel_answer>();
    promise.deliver(local_answer(
        which, ozonetel_outcome::rejected,
        "no password for agent " + agent.id
            + " (password_file in [ozonetel.agent." + agent.id
            + "], or password in POST /api/ozonetel/agents)"));
    return promise;
  }
  // Queued like every call (one queue, one in-flight cap); the agent's
  // password authenticates it, the shared token is not sent.
  return submit(self, which, true,
                [login, agent](const ozonetel::client& c, const std::string&) {
                  return login ? c.agent_login(agent.id, agent.password,
                                               agent.extension)
                               : c.agent_logout(agent.id, agent.password);
                });
}

answer_promise on_subscribe(session_ptr self, const std::string& calls_url,
                            const std::string& agents_url) {
  sb::metrics::message_probe probe{*self->state.metrics,
                                   self->mailbox().size()};
  auto base = self->state.cfg.subscribe_base;
  return submit(self, ozonetel::api::subscribe, true,
                [base, calls_url, agents_url](const ozonetel::client& c,
                                              const std::string&) {
                  return c.subscribe(base, calls_url, agents_url);
                });
}

answer_promise on_change_agent_state_as(session_ptr self,
                                        const std::string& agent_id,
                                        const std::string& state,
                                        const std::string& pause_reason) {
  sb::metrics::message_probe probe{*self->state.metrics,
                                   self->mailbox().size()};
  return submit(self, ozonetel::api::change_agent_state, true,
                [agent_id, state, pause_reason](const ozonetel::client& c,
                                                const std::string& token) {
                  return c.change_agent_state_as(token, agent_id, state,
                                                 pause_reason);
                });
}

answer_promise on_dispose(session_ptr self, const ozonetel_disposition& d) {
  sb::metrics::message_probe probe{*self->state.metrics,
                                   self->mailbox().size()};
  ozonetel::disposition_request request{d.ucid, d.disposition, d.comments,
                                        d.callback_time, d.agent_id};
  return submit(self, ozonetel::api::set_disposition, true,
                [request](const ozonetel::client& c, const std::string& token) {
                  return c.set_disposition(token, request);
                });
}

answer_promise on_change_agent_state(session_ptr self, const std::string& state,
                                     const std::string& pause_reason) {
  sb::metrics::message_probe probe{*self->state.metrics,
                                   self->mailbox().size()};
  return submit(self, ozonetel::api::change_agent_state, true,
                [state, pause_reason](const ozonetel::client& c,
                                      const std::string& token) {
                  return c.change_agent_state(token, state, pause_reason);
                });
}

ozonetel_session_status session_status(session_ptr self) {
  sb::metrics::message_probe probe{*self->state.metrics,
                                   self->mailbox().size()};
  auto& st = self->state;
  ozonetel_session_status s;
  s.generations_last_hour = static_cast<int64_t>(st.ledger->count(now(self)));
  s.generations_total = st.generations_total;
  s.has_token = token_usable(self);
  s.token_expires_at
      = s.has_token
            ? duration_cast<seconds>(st.token_expires.time_since_epoch())
                  .count()
            : 0;
  s.fetching = st.fetching;
  s.waiting_for_token = static_cast<int64_t>(st.waiting_for_token.size());
  s.in_flight = static_cast<int64_t>(st.in_flight);
  s.queued = static_cast<int64_t>(st.ready.size());
  return s;
}

} // namespace

bool token_ledger::try_record(time_point now, int limit) {
  std::lock_guard<std::mutex> guard{mtx_};
  prune(now);
  if (static_cast<int>(generations_.size()) >= limit)
    return false;
  generations_.push_back(now);
  return true;
}

size_t token_ledger::count(time_point now) {
  std::lock_guard<std::mutex> guard{mtx_};
  prune(now);
  return generations_.size();
}

token_ledger::time_point token_ledger::next_room(time_point now) {
  std::lock_guard<std::mutex> guard{mtx_};
  prune(now);
  return generations_.empty() ? now : generations_.front() + hours{1};
}

void token_ledger::prune(time_point now) {
  while (!generations_.empty() && generations_.front() <= now - hours{1})
    generations_.pop_front();
}

std::shared_ptr<token_ledger>
token_ledger::for_account(const std::string& account) {
  static std::mutex mtx;
  static std::map<std::string, std::shared_ptr<token_ledger>> ledgers;
  std::lock_guard<std::mutex> guard{mtx};
  auto& ledger = ledgers[account];
  if (!ledger)
    ledger = std::make_shared<token_ledger>();
  return ledger;
}

ozonetel_session_state::~ozonetel_session_state() {
  // Callers waiting on this session must not hang when it goes away.
  for (auto& [id, req] : requests)
    req.promise.deliver(local_answer(req.which, ozonetel_outcome::unavailable,
                                     "the Ozonetel session stopped"));
}

ozonetel_session_actor::behavior_type
ozonetel_session(session_ptr self, ozonetel_config cfg,
                 ozonetel_session_options opts) {
  auto& st = self->state;
  st.client = std::make_shared<const ozonetel::client>(client_settings(cfg));
  st.cfg = std::move(cfg);
  st.opts = std::move(opts);
  if (!st.opts.clock)
    st.opts.clock = [] { return system_clock::now(); };
  if (st.opts.max_in_flight == 0)
    st.opts.max_in_flight = 1;
  st.ledger = st.opts.ledger ? st.opts.ledger
                             : token_ledger::for_account(st.cfg.account);
  return {
      [=](dial_atom, const std::string& customer_number) {
        return on_dial(self, customer_number);
      },
      [=](dial_atom, const std::string& agent_id,
          const std::string& customer_number) {
        return on_dial_as(self, agent_id, customer_number);
      },
      [=](dispose_atom, const ozonetel_disposition& d) {
        return on_dispose(self, d);
      },
      [=](agent_state_atom, const std::string& agent_id,
          const std::string& state, const std::string& pause_reason) {
        return on_change_agent_state_as(self, agent_id, state, pause_reason);
      },
      [=](login_atom, const ozonetel_agent& agent) {
        return on_agent_auth(self, true, agent);
      },
      [=](logout_atom, const ozonetel_agent& agent) {
        return on_agent_auth(self, false, agent);
      },
      [=](subscribe_atom, const std::string& calls_url,
          const std::string& agents_url) {
        return on_subscribe(self, calls_url, agents_url);
      },
      [=](agent_state_atom, const std::string& state,
          const std::string& pause_reason) {
        return on_change_agent_state(self, state, pause_reason);
      },
      [=](status_atom) { return session_status(self); },
      [=](ozonetel_attempt& attempt) {
        sb::metrics::message_probe probe{*self->state.metrics,
                                         self->mailbox().size()};
        if (attempt.request_id == 0)
          on_token(self, attempt);
        else
          on_attempt(self, attempt);
      },
      [=](retry_atom, uint64_t id) {
        sb::metrics::message_probe probe{*self->state.metrics,
                                         self->mailbox().size()};
        if (self->state.requests.count(id) > 0)
          schedule(self, id);
      },
      [=](token_atom) {
        sb::metrics::message_probe probe{*self->state.metrics,
                                         self->mailbox().size()};
        // Without waiters the next request fetches when it needs to.
        if (!self->state.waiting_for_token.empty())
          start_fetch(self);
      },
  };
}

} // namespace sb
