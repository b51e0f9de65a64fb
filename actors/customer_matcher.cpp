#include "actors/customer_matcher.hpp"

#include <algorithm>
#include <utility>

#include <caf/actor_cast.hpp>

#include "adapters/json/event_json.hpp"
#include "adapters/store/database.hpp"
#include "core/error.hpp"
#include "core/log.hpp"

namespace sb {

namespace {

using self_ptr
    = customer_matcher_actor::stateful_pointer<customer_matcher_state>;

constexpr const char* actor_name = "customer_matcher";

caf::expected<std::vector<customer>> load_customers(const std::string& url) {
  auto db = store::database::open(url);
  if (!db)
    return std::move(db.error());
  return (*db)->all_customers();
}

/// A click-to-call's entry gets the customer the request named (the number
/// alone may match nobody, or several customers).
void apply_originates(customer_matcher_state& st,
                      std::vector<matched_call>& matched) {
  if (st.originates.empty())
    return;
  for (auto& m : matched) {
    if (m.call.request_id.empty())
      continue;
    auto i = st.originates.find(m.call.request_id);
    if (i == st.originates.end())
      continue;
    if (i->second.customer_id)
      m.customer_id = i->second.customer_id;
    st.originates.erase(i);
  }
}

void forward(self_ptr self, std::vector<completed_call> calls) {
  if (calls.empty())
    return;
  auto matched = self->state.match(std::move(calls));
  apply_originates(self->state, matched);
  if (self->state.events) {
    std::vector<event_record> ended;
    for (auto& m : matched)
      if (m.call.source == "ami")
        ended.push_back(json::ended_event(m.call, m.customer_id));
    if (!ended.empty())
      self->send(self->state.events, append_atom_v, std::move(ended));
  }
  self->send(self->state.writer, std::move(matched));
}

/// The customer of an outside number: none for internal calls, numbers that
/// do not normalize and numbers nobody has.
caf::optional<int64_t> customer_of(customer_matcher_state& st,
                                   const std::string& direction,
                                   const std::string& number) {
  if (direction == "internal" || number.empty() || !st.loaded)
    return caf::none;
  return st.find(st.to_e164(number));
}

void on_notices(self_ptr self, std::vector<live_notice>& notices) {
  auto& st = self->state;
  if (!st.events || notices.empty())
    return;
  std::vector<event_record> out;
  out.reserve(notices.size());
  for (auto& n : notices) {
    caf::optional<int64_t> id;
    const auto* req = st.originate_of(n.request_id);
    if (n.kind == live_notice_kind::originate_failed && req != nullptr) {
      // What was asked for, not what the PBX echoed.
      n.extension = req->extension;
      n.external_number = req->phone_number;
    }
    if (req != nullptr && req->customer_id)
      id = req->customer_id;
    else if (n.kind == live_notice_kind::ringing
             || n.kind == live_notice_kind::originate_failed)
      id = customer_of(st, n.direction, n.external_number);
    std::string name;
    if (req != nullptr && req->customer_id)
      name = req->customer_name;
    else if (id)
      name = st.name_of(*id);
    out.push_back(json::notice_event(n, id, name));
  }
  self->send(st.events, append_atom_v, std::move(out));
}

std::vector<live_call> with_customers(customer_matcher_state& st,
                                      std::vector<live_call> calls) {
  for (auto& c : calls) {
    c.customer_id = customer_of(st, to_string(c.direction), c.external_number);
    if (c.customer_id)
      c.customer_name = st.name_of(*c.customer_id);
  }
  return calls;
}

/// How long the writer may commit before it spools what it holds, when the
/// matcher asks it to make the released calls durable.
constexpr int64_t release_budget_ms = 1000;

/// Drops the first `n` records of the held spool, once the writer holds
/// them durably. Calls held after the release stay behind them.
void consume_held_spool(self_ptr self, size_t n) {
  auto& spool = self->state.held_spool;
  if (!spool || n == 0)
    return;
  n = std::min(n, spool->depth());
  caf::error err;
  if (auto peeked = spool->peek(n); !peeked)
    err = std::move(peeked.error());
  else if (auto consumed = spool->consume(n); !consumed)
    err = consumed.error();
  if (err)
    log::error(actor_name,
               "cannot empty the held-calls spool; its calls are sent again "
               "on the next start (harmless duplicates)",
               {{"error", describe(err)}});
}

/// Hands every held call on to the writer; the held spool is emptied once
/// the writer answers a flush, i.e. holds them committed or spooled.
void release_held(self_ptr self) {
  auto& st = self->state;
  if (st.downstream)
    st.downstream->acquire(st.held.size());
  forward(self, std::move(st.held));
  st.held.clear();
  if (!st.held_spool || st.held_spool->depth() == 0 || st.release_in_flight)
    return;
  st.release_in_flight = true;
  auto n = st.held_spool->depth();
  self->request(st.writer, std::chrono::seconds{30}, flush_atom_v,
                release_budget_ms)
      .then(
          [self, n](drain_report&) {
            self->state.release_in_flight = false;
            consume_held_spool(self, n);
          },
          [self](caf::error& err) {
            self->state.release_in_flight = false;
            log::warning(actor_name,
                         "writer did not confirm the released calls; they "
                         "stay in the held-calls spool",
                         {{"error", describe(err)}});
          });
}

/// Keeps calls until the index is loaded: on disk first, then in memory.
void hold(self_ptr self, std::vector<completed_call>& calls) {
  auto& st = self->state;
  if (st.held_spool) {
    std::vector<matched_call> records;
    records.reserve(calls.size());
    for (auto& call : calls)
      records.push_back(matched_call{call, caf::none, {}});
    if (auto ok = st.held_spool->append(records); !ok)
      log::error(actor_name,
                 "cannot append to the held-calls spool; holding the calls in "
                 "memory only",
                 {{"error", describe(ok.error())}});
  }
  if (st.downstream)
    st.downstream->release(calls.size());
  std::move(calls.begin(), calls.end(), std::back_inserter(st.held));
}

void schedule_reload(self_ptr self) {
  auto& st = self->state;
  if (st.reload_scheduled)
    return;
  st.reload_scheduled = true;
  self->delayed_send(caf::actor_cast<customer_matcher_actor>(self),
                     st.reload_backoff, reload_atom_v);
  st.reload_backoff = std::min(st.reload_backoff * 2,
                               customer_matcher_state::reload_backoff_max);
}

void load(self_ptr self) {
  auto& st = self->state;
  auto customers = load_customers(st.db_url);
  if (!customers) {
    log::warning(actor_name,
                 st.loaded ? "cannot reload customers; keeping the index"
                           : "cannot load customers; holding calls",
                 {{"error", describe(customers.error())},
                  {"held", std::to_string(st.held.size())}});
    schedule_reload(self);
    return;
  }
  st.rebuild(*customers);
  st.reload_backoff = customer_matcher_state::reload_backoff_initial;
  if (!st.refresh_pending) {
    st.refresh_pending = true;
    st.refresh_due = std::chrono::steady_clock::now()
                     + customer_matcher_state::refresh_interval;
    self->delayed_send(caf::actor_cast<customer_matcher_actor>(self),
                       customer_matcher_state::refresh_interval, reload_atom_v);
  }
  log::info(actor_name, "customer index loaded",
            {{"customers", std::to_string(customers->size())},
             {"numbers", std::to_string(st.ids_by_e164.size())}});
  if (!st.loaded) {
    st.loaded = true;
    release_held(self);
  }
}

void open_held_spool(self_ptr self, const std::string& path) {
  auto& st = self->state;
  auto spool = store::spool::open(path);
  if (!spool) {
    log::error(actor_name,
               "cannot open the held-calls spool; held calls are in memory "
               "only",
               {{"error", describe(spool.error())}});
    return;
  }
  st.held_spool = std::move(*spool);
  auto depth = st.held_spool->depth();
  if (depth == 0)
    return;
  auto earlier = st.held_spool->peek(depth);
  if (!earlier) {
    log::error(actor_name, "held-calls spool unreadable",
               {{"error", describe(earlier.error())}});
    return;
  }
  for (auto& record : *earlier)
    st.held.push_back(std::move(record.call));
  log::info(actor_name, "holding calls from an earlier run",
            {{"calls", std::to_string(st.held.size())}, {"path", path}});
}

} // namespace

void customer_matcher_state::rebuild(const std::vector<customer>& customers) {
  ids_by_e164.clear();
  e164_by_id.clear();
  name_by_id.clear();
  for (const auto& c : customers) {
    index(c.id, c.phone_e164);
    if (!c.phone_e164.empty())
      name_by_id[c.id] = c.name;
  }
}

void customer_matcher_state::remember(originate_request req) {
  auto now = std::chrono::steady_clock::now();
  while (!originate_order.empty()
         && (originate_order.size() >= max_originates
             || now - originate_order.front().second > originate_keep)) {
    originates.erase(originate_order.front().first);
    originate_order.pop_front();
  }
  originate_order.emplace_back(req.request_id, now);
  auto id = req.request_id;
  originates[id] = std::move(req);
}

const originate_request*
customer_matcher_state::originate_of(const std::string& id) const {
  if (id.empty())
    return nullptr;
  auto i = originates.find(id);
  return i == originates.end() ? nullptr : &i->second;
}

const std::string& customer_matcher_state::name_of(int64_t id) const {
  static const std::string none;
  auto i = name_by_id.find(id);
  return i == name_by_id.end() ? none : i->second;
}

void customer_matcher_state::index(int64_t id, const std::string& e164) {
  if (auto old = e164_by_id.find(id); old != e164_by_id.end()) {
    if (old->second == e164)
      return;
    auto& ids = ids_by_e164[old->second];
    ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
    if (ids.empty())
      ids_by_e164.erase(old->second);
    e164_by_id.erase(old);
  }
  if (e164.empty())
    return;
  auto& ids = ids_by_e164[e164];
  ids.insert(std::lower_bound(ids.begin(), ids.end(), id), id);
  e164_by_id.emplace(id, e164);
}

caf::optional<int64_t>
customer_matcher_state::find(const std::string& e164) const {
  if (e164.empty())
    return caf::none;
  auto i = ids_by_e164.find(e164);
  if (i == ids_by_e164.end() || i->second.empty())
    return caf::none;
  return i->second.front();
}

const std::string& customer_matcher_state::to_e164(const std::string& raw) {
  if (auto i = e164_cache.find(raw); i != e164_cache.end())
    return i->second;
  if (e164_cache.size() >= max_cached_numbers)
    e164_cache.clear();
  return e164_cache.emplace(raw, normalizer->to_e164(raw)).first->second;
}

std::vector<matched_call>
customer_matcher_state::match(std::vector<completed_call> calls) {
  std::vector<matched_call> out;
  out.reserve(calls.size());
  for (auto& call : calls) {
    matched_call m;
    if (call.direction != call_direction::internal) {
      m.external_e164 = to_e164(call.external_number);
      m.customer_id = find(m.external_e164);
      (m.customer_id ? matched : unmatched)->inc();
    }
    m.call = std::move(call);
    out.push_back(std::move(m));
  }
  return out;
}

customer_matcher_actor::behavior_type customer_matcher(
    customer_matcher_actor::stateful_pointer<customer_matcher_state> self,
    const phone_config& phone, std::string db_url,
    comms_log_writer_actor writer) {
  return durable_customer_matcher(self, phone, std::move(db_url),
                                  std::move(writer), std::string{});
}

customer_matcher_actor::behavior_type bounded_customer_matcher(
    customer_matcher_actor::stateful_pointer<customer_matcher_state> self,
    const phone_config& phone, std::string db_url,
    comms_log_writer_actor writer, const std::string& held_path,
    std::shared_ptr<flow_gate> downstream) {
  self->state.downstream = std::move(downstream);
  return durable_customer_matcher(self, phone, std::move(db_url),
                                  std::move(writer), held_path);
}

customer_matcher_actor::behavior_type durable_customer_matcher(
    customer_matcher_actor::stateful_pointer<customer_matcher_state> self,
    const phone_config& phone, std::string db_url,
    comms_log_writer_actor writer, const std::string& held_path) {
  auto& st = self->state;
  st.normalizer = std::make_unique<phone::normalizer>(phone.default_region);
  st.db_url = std::move(db_url);
  st.writer = std::move(writer);
  auto& reg = metrics::global();
  st.matched = &reg.get_counter(
      "switchboard_calls_matched_total",
      "Completed outside calls attached to a customer by their number.");
  st.unmatched = &reg.get_counter(
      "switchboard_calls_unmatched_total",
      "Completed outside calls whose number matches no customer (anonymous, "
      "unknown or not a customer).");
  if (!held_path.empty())
    open_held_spool(self, held_path);
  load(self);
  return {
      [self](std::vector<completed_call>& calls) {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        auto& s = self->state;
        if (s.loaded) {
          forward(self, std::move(calls));
          return;
        }
        hold(self, calls);
        if (s.held.size() > customer_matcher_state::max_held) {
          log::warning(actor_name,
                       "customer index still not loaded; writing "
                       "held calls without customers",
                       {{"calls", std::to_string(s.held.size())}});
          release_held(self);
        }
      },
      [self](customer_atom, customer& c) {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        auto& s = self->state;
        auto e164 = c.phone_e164.empty() ? s.normalizer->to_e164(c.phone)
                                         : c.phone_e164;
        s.index(c.id, e164);
        s.name_by_id[c.id] = c.name;
      },
      [self](std::vector<live_notice>& notices) {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        on_notices(self, notices);
      },
      [self](match_atom, std::vector<live_call>& calls) {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        return with_customers(self->state, std::move(calls));
      },
      [self](originate_atom, originate_request& req) {
        self->state.remember(std::move(req));
        return true;
      },
      [self](events_atom, caf::actor& events) {
        self->state.events = caf::actor_cast<event_log_actor>(events);
      },
      [self](reload_atom) {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        auto& st = self->state;
        st.reload_scheduled = false;
        if (st.refresh_pending
            && std::chrono::steady_clock::now() >= st.refresh_due)
          st.refresh_pending = false;
        load(self);
      },
      [self](flush_atom, int64_t budget_ms) -> caf::result<drain_report> {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        auto& s = self->state;
        if (!s.held.empty())
          log::warning(actor_name,
                       s.loaded ? "stopping: handing on held calls"
                                : "stopping before the customer index "
                                  "loaded: handing on held calls unmatched",
                       {{"calls", std::to_string(s.held.size())}});
        forward(self, std::move(s.held));
        s.held.clear();
        auto n = s.held_spool ? s.held_spool->depth() : size_t{0};
        auto rp = self->make_response_promise<drain_report>();
        self->request(s.writer,
                      std::chrono::milliseconds{budget_ms}
                          + std::chrono::seconds{5},
                      flush_atom_v, budget_ms)
            .then(
                [self, rp, n](drain_report& report) mutable {
                  consume_held_spool(self, n);
                  rp.deliver(report);
                },
                [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
        return rp;
      },
      [self](rewire_atom, caf::actor& writer) {
        self->state.writer = caf::actor_cast<comms_log_writer_actor>(writer);
      },
  };
}

} // namespace sb
