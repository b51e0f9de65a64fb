#include "actors/comms_log_writer.hpp"

#include "adapters/json/event_json.hpp"
#include "core/db_url.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/sec.hpp>

#include "core/error.hpp"
#include "core/log.hpp"

namespace sb {

namespace {

using self_ptr
    = comms_log_writer_actor::stateful_pointer<comms_log_writer_state>;
using clock_type = std::chrono::steady_clock;

constexpr const char* actor_name = "comms_log_writer";

std::vector<double> batch_size_buckets() {
  return {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000};
}

void update_gauges(comms_log_writer_state& st) {
  st.pending_gauge->set(static_cast<double>(st.pending.size()));
  st.spool_gauge->set(st.spool ? static_cast<double>(st.spool->depth()) : 0.0);
  st.spool_bytes->set(st.spool ? static_cast<double>(st.spool->bytes()) : 0.0);
}

void count_logged(comms_log_writer_state& st, const std::string& source,
                  const std::string& direction,
                  const std::string& disposition) {
  auto key = std::make_tuple(source, direction,
                             disposition.empty() ? std::string{"none"}
                                                 : disposition);
  auto i = st.logged.find(key);
  if (i == st.logged.end()) {
    auto& c = metrics::global().get_counter(
        "switchboard_calls_logged_total",
        "Comms-log entries created, by source, direction and disposition.",
        {{"source", std::get<0>(key)},
         {"direction", std::get<1>(key)},
         {"disposition", std::get<2>(key)}});
    i = st.logged.emplace(key, &c).first;
  }
  i->second->inc();
}

void count_outcomes(comms_log_writer_state& st,
                    const std::vector<matched_call>& batch,
                    const std::vector<store::write_outcome>& outcomes) {
  for (size_t i = 0; i < batch.size() && i < outcomes.size(); ++i) {
    const auto& call = batch[i].call;
    if (st.events && outcomes[i] != store::write_outcome::duplicate)
      st.logged_events.push_back(json::logged_event(call));
    if (outcomes[i] == store::write_outcome::inserted) {
      count_logged(st, call.source, to_string(call.direction),
                   to_string(call.disposition));
    } else {
      const char* outcome = outcomes[i] == store::write_outcome::merged
                                ? "merged"
                                : "duplicate";
      metrics::global()
          .get_counter("switchboard_calls_deduplicated_total",
                       "Records whose call was already in the comms log "
                       "(replays, re-sends after an outage, merged reports).",
                       {{"source", call.source}, {"outcome", outcome}})
          .inc();
    }
  }
}

caf::error unavailable_error(const comms_log_writer_state& st,
                             const std::string& reason) {
  return caf::make_error(ec::database_unavailable,
                         "database unavailable: " + reason + " (records held: "
                             + std::to_string(st.held()) + ")");
}

struct writer_ops {
  self_ptr self;
  std::string last_error;

  comms_log_writer_state& st() {
    return self->state;
  }

  void mark_down(const caf::error& err) {
    auto& s = st();
    s.errors_unavailable->inc();
    last_error = describe(err);
    if (!s.down) {
      s.backoff = comms_log_writer_state::retry_backoff_initial;
      log::warning(actor_name,
                   "database unavailable; holding records and "
                   "retrying with backoff",
                   {{"error", last_error}, {"held", std::to_string(s.held())}});
    } else {
      s.backoff
          = std::min(s.backoff * 2, comms_log_writer_state::retry_backoff_max);
      log::debug(actor_name, "database still unavailable",
                 {{"error", last_error},
                  {"retry_ms", std::to_string(s.backoff.count())}});
    }
    s.down = true;
    s.db.reset();
    spill_pending();
    s.next_attempt = clock_type::now() + s.backoff;
    self->delayed_send(caf::actor_cast<comms_log_writer_actor>(self), s.backoff,
                       retry_atom_v);
  }

  void mark_up() {
    auto& s = st();
    if (s.down)
      log::info(actor_name, "database available again",
                {{"held", std::to_string(s.held())}});
    s.down = false;
    s.backoff = comms_log_writer_state::retry_backoff_initial;
  }

  bool ensure_db() {
    auto& s = st();
    if (s.db)
      return true;
    store::open_options options;
    options.busy_timeout = comms_log_writer_state::sqlite_busy_timeout;
    auto db = store::database::open(s.config.url, options);
    if (!db) {
      mark_down(db.error());
      return false;
    }
    s.db = std::move(*db);
    return true;
  }

  void schedule_flush() {
    auto& s = st();
    if (s.flush_scheduled || s.down)
      return;
    s.flush_scheduled = true;
    self->send(caf::actor_cast<comms_log_writer_actor>(self), retry_atom_v);
  }

  /// `n` records left memory: the tracker may hand on as many more.
  void release(size_t n) {
    if (st().downstream && n > 0)
      st().downstream->release(n);
  }

  /// Appends to the spool; false (records untouched) when it cannot take
  /// them: then they stay in memory and the error is logged and counted.
  bool to_spool(const std::vector<matched_call>& records) {
    auto& s = st();
    if (records.empty())
      return true;
    if (s.spool) {
      auto ok = s.spool->append(records);
      if (ok) {
        s.spooled_total->inc(static_cast<double>(records.size()));
        return true;
      }
      s.spool_refused->inc(static_cast<double>(records.size()));
      log::error(actor_name,
                 "cannot append to the spool; records held in memory only "
                 "(lost if the process dies)",
                 {{"error", describe(ok.error())},
                  {"records", std::to_string(records.size())}});
      return false;
    }
    if (!s.warned_unbounded) {
      s.warned_unbounded = true;
      log::error(actor_name,
                 "records cannot be committed and there is no spool: "
                 "holding them in memory only (lost if the process dies)",
                 {{"records", std::to_string(records.size())}});
    }
    return false;
  }

  /// Moves what memory holds to the spool, so that nothing waits for the
  /// database in memory alone. Records the spool refuses stay in memory.
  void spill_pending() {
    auto& s = st();
    if (s.pending.empty() || !s.spool)
      return;
    std::vector<matched_call> rest(std::make_move_iterator(s.pending.begin()),
                                   std::make_move_iterator(s.pending.end()));
    s.pending.clear();
    if (to_spool(rest)) {
      release(rest.size());
      return;
    }
    std::move(rest.begin(), rest.end(), std::back_inserter(s.pending));
  }

  void accept(std::vector<matched_call>&& calls) {
    auto& s = st();
    // While the database is down a record cannot be committed at once:
    // it is made durable now, not when memory runs out.
    if (s.down && s.spool && s.pending.empty()) {
      if (to_spool(calls)) {
        release(calls.size());
        return;
      }
    }
    auto room = s.config.max_pending > s.pending.size()
                    ? s.config.max_pending - s.pending.size()
                    : size_t{0};
    auto to_memory = std::min(room, calls.size());
    std::move(calls.begin(), calls.begin() + static_cast<ptrdiff_t>(to_memory),
              std::back_inserter(s.pending));
    if (to_memory == calls.size())
      return;
    std::vector<matched_call> overflow;
    overflow.reserve(calls.size() - to_memory);
    std::move(calls.begin() + static_cast<ptrdiff_t>(to_memory), calls.end(),
              std::back_inserter(overflow));
    if (to_spool(overflow)) {
      release(overflow.size());
      return;
    }
    std::move(overflow.begin(), overflow.end(), std::back_inserter(s.pending));
  }

  // Moves a corrupt spool aside so that the records after it are not blocked
  // forever; the file stays for an operator to inspect.
  void quarantine_spool(const caf::error& err) {
    auto& s = st();
    auto path = s.spool->path();
    auto aside = path + ".corrupt";
    log::error(actor_name, "spool unreadable; moved aside",
               {{"error", describe(err)}, {"moved_to", aside}});
    s.spool.reset();
    std::rename(path.c_str(), aside.c_str());
    if (auto fresh = store::spool::open(path))
      s.spool = std::move(*fresh);
  }

  // Drops the first `n` records of the current batch: `from_memory` of them
  // came from `pending`, the rest from the spool.
  void drop_handled(size_t n, size_t from_memory) {
    auto& s = st();
    auto m = std::min(n, from_memory);
    s.pending.erase(s.pending.begin(),
                    s.pending.begin() + static_cast<ptrdiff_t>(m));
    release(m);
    if (n > m && s.spool) {
      if (auto ok = s.spool->consume(n - m); !ok)
        log::error(actor_name, "cannot consume spool records",
                   {{"error", describe(ok.error())}});
    }
  }

  // Writes one transaction of at most batch_size records. Returns false when
  // the database turned out to be unavailable (records kept, retry
  // scheduled).
  bool write_batch() {
    auto& s = st();
    if (!ensure_db())
      return false;
    auto limit = std::max<size_t>(1, s.config.batch_size);
    auto from_memory = std::min(limit, s.pending.size());
    std::vector<matched_call> batch(s.pending.begin(),
                                    s.pending.begin()
                                        + static_cast<ptrdiff_t>(from_memory));
    if (from_memory < limit && s.spool && s.spool->depth() > 0) {
      auto more = s.spool->peek(limit - from_memory);
      if (more)
        std::move(more->begin(), more->end(), std::back_inserter(batch));
      else
        quarantine_spool(more.error());
    }
    if (batch.empty())
      return true;
    std::vector<store::write_outcome> outcomes;
    auto t0 = clock_type::now();
    auto res = s.db->write_calls(batch, &outcomes);
    if (res) {
      s.write_seconds->observe(
          std::chrono::duration<double>(clock_type::now() - t0).count());
      s.batch_size->observe(static_cast<double>(batch.size()));
      count_outcomes(s, batch, outcomes);
      s.committed += static_cast<int64_t>(batch.size());
      drop_handled(batch.size(), from_memory);
      mark_up();
      send_logged();
      return true;
    }
    if (store::is_unavailable(res.error())) {
      mark_down(res.error());
      return false;
    }
    // The database refuses something in this batch: find it, write the rest.
    s.errors_rejected->inc();
    for (size_t i = 0; i < batch.size(); ++i) {
      std::vector<matched_call> single{batch[i]};
      auto one = s.db->write_calls(single, &outcomes);
      if (one) {
        count_outcomes(s, single, outcomes);
        ++s.committed;
        continue;
      }
      if (store::is_unavailable(one.error())) {
        drop_handled(i, from_memory);
        mark_down(one.error());
        return false;
      }
      s.rejected->inc();
      log::error(actor_name, "database refused a call record; dropped",
                 {{"source", batch[i].call.source},
                  {"ext_message_id", batch[i].call.ext_message_id},
                  {"error", describe(one.error())}});
    }
    drop_handled(batch.size(), from_memory);
    mark_up();
    send_logged();
    return true;
  }

  // After a commit: the new and merged entries are call.logged events.
  void send_logged() {
    auto& s = st();
    if (s.logged_events.empty())
      return;
    if (s.events)
      self->send(s.events, append_atom_v, std::move(s.logged_events));
    s.logged_events.clear();
  }

  // With nothing to write, a retry only checks whether the database is back
  // so that manual entries and customers are accepted again.
  void probe_recovery() {
    if (!ensure_db())
      return;
    if (auto ok = st().db->ping(); !ok) {
      mark_down(ok.error());
      return;
    }
    mark_up();
  }
};

void register_metrics(comms_log_writer_state& st) {
  auto& reg = metrics::global();
  st.write_seconds = &reg.get_histogram(
      "switchboard_db_write_seconds",
      "Time to commit one transaction of comms-log records.");
  st.batch_size = &reg.get_histogram("switchboard_db_batch_size",
                                     "Records per comms-log transaction.", {},
                                     batch_size_buckets());
  st.pending_gauge = &reg.get_gauge(
      "switchboard_writer_pending",
      "Records held in memory by the comms-log writer, not yet committed.");
  st.spool_gauge = &reg.get_gauge(
      "switchboard_writer_spool_depth",
      "Records in the comms-log writer's spool file, not yet committed.");
  const char* errors_help
      = "Failed comms-log writes: unavailable (retried) or rejected (data).";
  st.errors_unavailable
      = &reg.get_counter("switchboard_writer_db_errors_total", errors_help,
                         {{"kind", "unavailable"}});
  st.errors_rejected = &reg.get_counter("switchboard_writer_db_errors_total",
                                        errors_help, {{"kind", "rejected"}});
  st.rejected = &reg.get_counter(
      "switchboard_writer_rejected_total",
      "Call records the database refused (logged with their identity).");
  st.spool_bytes
      = &reg.get_gauge("switchboard_writer_spool_bytes",
                       "Size of the comms-log writer's spool file in bytes.");
  st.spool_limit = &reg.get_gauge(
      "switchboard_writer_spool_limit_bytes",
      "Largest size the spool file may reach (db.spool_max_mb).");
  st.spooled_total = &reg.get_counter(
      "switchboard_writer_spooled_total",
      "Records written to the spool file because they could not be "
      "committed at once.");
  st.spool_refused = &reg.get_counter(
      "switchboard_writer_spool_refused_total",
      "Records the spool could not take (full, disk error): held in memory "
      "only.");
}

void open_spool(comms_log_writer_state& st) {
  auto limit = st.config.spool_max_mb * size_t{1024} * 1024;
  st.spool_limit->set(static_cast<double>(limit));
  if (st.config.spool_path.empty())
    return;
  auto spool = store::spool::open(st.config.spool_path);
  if (!spool && code_of(spool.error()) == ec::invalid) {
    // Records of another build (an upgrade while the database was down):
    // kept whole beside the new spool for that build to replay.
    auto aside = st.config.spool_path + ".other-build";
    log::error(actor_name,
               "the spool holds records another build wrote; moved aside."
               " Start that build with db.spool_path pointing at it (and the"
               " database up) to replay them",
               {{"error", describe(spool.error())}, {"moved_to", aside}});
    std::rename(st.config.spool_path.c_str(), aside.c_str());
    spool = store::spool::open(st.config.spool_path);
  }
  if (spool) {
    st.spool = std::move(*spool);
    st.spool->set_limit(limit);
  } else
    log::error(actor_name,
               "cannot open the spool; records beyond "
               "max_pending stay in memory",
               {{"error", describe(spool.error())}});
}

void on_calls(self_ptr self, writer_ops& ops,
              std::vector<matched_call>& calls) {
  metrics::message_probe probe{*self->state.metrics, self->mailbox().size()};
  auto& s = self->state;
  ops.accept(std::move(calls));
  // A full batch gains nothing by waiting for the mailbox to drain.
  while (!s.down
         && s.pending.size() >= std::max<size_t>(1, s.config.batch_size))
    if (!ops.write_batch())
      break;
  ops.schedule_flush();
  update_gauges(s);
}

caf::result<comms_entry> on_manual_entry(self_ptr self, writer_ops& ops,
                                         comms_entry& entry,
                                         const std::string& idempotency_key) {
  metrics::message_probe probe{*self->state.metrics, self->mailbox().size()};
  auto& s = self->state;
  if (s.down || !ops.ensure_db())
    return unavailable_error(s, ops.last_error);
  bool replayed = false;
  auto stored
      = s.db->insert_manual(std::move(entry), idempotency_key, &replayed);
  if (!stored) {
    if (store::is_unavailable(stored.error())) {
      ops.mark_down(stored.error());
      return unavailable_error(s, ops.last_error);
    }
    return std::move(stored.error());
  }
  if (!replayed) {
    count_logged(s, stored->source, stored->direction, stored->disposition);
    if (s.events)
      self->send(s.events, append_atom_v, json::manual_event(*stored));
  }
  return std::move(*stored);
}

caf::result<customer> on_add_customer(self_ptr self, writer_ops& ops,
                                      customer& c) {
  metrics::message_probe probe{*self->state.metrics, self->mailbox().size()};
  auto& s = self->state;
  if (s.down || !ops.ensure_db())
    return unavailable_error(s, ops.last_error);
  auto added = s.db->add_customer(std::move(c));
  if (!added) {
    if (store::is_unavailable(added.error())) {
      ops.mark_down(added.error());
      return unavailable_error(s, ops.last_error);
    }
    return std::move(added.error());
  }
  return std::move(*added);
}

/// Runs one customer change of the CRM API on the writer's session.
template <class F>
caf::result<customer_change> on_customer_change(self_ptr self, writer_ops& ops,
                                                F&& change) {
  metrics::message_probe probe{*self->state.metrics, self->mailbox().size()};
  auto& s = self->state;
  if (s.down || !ops.ensure_db())
    return unavailable_error(s, ops.last_error);
  auto done = change(*s.db);
  if (!done) {
    if (store::is_unavailable(done.error())) {
      ops.mark_down(done.error());
      return unavailable_error(s, ops.last_error);
    }
    return std::move(done.error());
  }
  return std::move(*done);
}

void on_retry(self_ptr self, writer_ops& ops) {
  metrics::message_probe probe{*self->state.metrics, self->mailbox().size()};
  auto& s = self->state;
  s.flush_scheduled = false;
  // While down only the delayed retry counts; a flush queued before the
  // failure must not cut the backoff short.
  if (s.down
      && clock_type::now() + std::chrono::milliseconds{1} < s.next_attempt)
    return;
  if (s.held() == 0) {
    if (s.down)
      ops.probe_recovery();
    return;
  }
  if (ops.write_batch() && s.held() > 0)
    ops.schedule_flush();
  update_gauges(s);
}

drain_report on_drain(self_ptr self, writer_ops& ops, int64_t budget_ms) {
  metrics::message_probe probe{*self->state.metrics, self->mailbox().size()};
  auto& s = self->state;
  auto deadline = clock_type::now() + std::chrono::milliseconds{budget_ms};
  // Commit while there is time and a database; a record the database
  // cannot take now goes to the spool instead of waiting in memory.
  while (!s.down && s.held() > 0 && clock_type::now() < deadline)
    if (!ops.write_batch())
      break;
  ops.spill_pending();
  update_gauges(s);
  drain_report report;
  report.committed = s.committed;
  report.spooled = s.spool ? static_cast<int64_t>(s.spool->depth()) : 0;
  report.lost = static_cast<int64_t>(s.pending.size());
  return report;
}

} // namespace

comms_log_writer_state::~comms_log_writer_state() {
  if (pending.empty())
    return;
  std::vector<matched_call> rest(std::make_move_iterator(pending.begin()),
                                 std::make_move_iterator(pending.end()));
  if (spool) {
    if (auto ok = spool->append(rest); ok) {
      log::info(
          name, "records not yet committed moved to the spool",
          {{"records", std::to_string(rest.size())}, {"path", spool->path()}});
      return;
    }
  }
  log::error(name, "records not yet committed are lost: no usable spool",
             {{"records", std::to_string(rest.size())}});
}

comms_log_writer_actor::behavior_type comms_log_writer_bounded(
    comms_log_writer_actor::stateful_pointer<comms_log_writer_state> self,
    db_config cfg, std::shared_ptr<flow_gate> downstream) {
  self->state.downstream = std::move(downstream);
  return comms_log_writer(self, std::move(cfg));
}

comms_log_writer_actor::behavior_type comms_log_writer(
    comms_log_writer_actor::stateful_pointer<comms_log_writer_state> self,
    db_config cfg) {
  auto& st = self->state;
  st.config = std::move(cfg);
  register_metrics(st);
  open_spool(st);
  auto ops = std::make_shared<writer_ops>(writer_ops{self, {}});
  if (ops->ensure_db())
    log::info(actor_name, "database opened",
              {{"url", sb::redact_url(st.config.url)}});
  if (st.spool && st.spool->depth() > 0) {
    log::info(actor_name, "spool holds records from an earlier run",
              {{"records", std::to_string(st.spool->depth())}});
    ops->schedule_flush();
  }
  update_gauges(st);
  return {
      [self, ops](std::vector<matched_call>& calls) {
        on_calls(self, *ops, calls);
      },
      [self, ops](write_atom, comms_entry& entry,
                  std::string& idempotency_key) -> caf::result<comms_entry> {
        return on_manual_entry(self, *ops, entry, idempotency_key);
      },
      [self, ops](customer_atom, customer& c) -> caf::result<customer> {
        return on_add_customer(self, *ops, c);
      },
      [self, ops](customer_atom, customer& c,
                  std::string& key) -> caf::result<customer_change> {
        return on_customer_change(self, *ops, [&](store::database& db) {
          return db.add_unique_customer(std::move(c), key);
        });
      },
      [self, ops](customer_atom,
                  customer_patch& patch) -> caf::result<customer_change> {
        return on_customer_change(self, *ops, [&](store::database& db) {
          return db.update_customer(patch);
        });
      },
      [self, ops](delete_atom, int64_t id) -> caf::result<customer_change> {
        return on_customer_change(self, *ops, [&](store::database& db) {
          return db.delete_customer(id);
        });
      },
      [self, ops](retry_atom) { on_retry(self, *ops); },
      [self](status_atom) -> int64_t {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        return static_cast<int64_t>(self->state.held());
      },
      [self, ops](flush_atom, int64_t budget_ms) -> drain_report {
        return on_drain(self, *ops, budget_ms);
      },
      [self](events_atom, caf::actor& events) {
        self->state.events = caf::actor_cast<event_log_actor>(events);
      },
  };
}

} // namespace sb
