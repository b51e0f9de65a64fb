#include "actors/cdr_catchup.hpp"

#include <algorithm>
#include <unordered_set>
#include <utility>
#include <vector>

#include <caf/actor_cast.hpp>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "domain/cdr_calls.hpp"

namespace sb {

namespace {

using self_ptr = cdr_catchup_actor::stateful_pointer<cdr_catchup_state>;

constexpr unix_micros second = 1'000'000;

void publish(cdr_catchup_state& st, const char* state) {
  cdr::status s;
  s.pbx = st.pbx.name;
  s.state = state;
  s.last_error = st.down ? st.last_error : std::string{};
  s.pending_gaps = st.pending.size();
  st.board->set(s);
  st.pending_gauge->set(static_cast<double>(st.pending.size()));
}

/// The window of `gap` in the PBX's clock, UTC microseconds.
caf::expected<std::pair<unix_micros, unix_micros>>
window_of(cdr_catchup_state& st, const cdr_gap& gap) {
  unix_micros to = gap.to;
  if (to == 0) {
    auto latest = st.cdr->latest_end();
    if (!latest)
      return std::move(latest.error());
    to = *latest + second;
  }
  auto limit
      = to - static_cast<unix_micros>(st.pbx.cdr_catchup_hours * 3600 * second);
  unix_micros from = gap.from;
  if (gap.startup || (from == 0 && gap.linkedid.empty())) {
    // What was logged before is not caught up again.
    auto last = st.store->latest_end("ami", st.pbx.name);
    if (!last)
      return std::move(last.error());
    // Back by an overlap: calls that had ended but were not committed when
    // the process died (kill -9) end before the last committed one; those
    // logged are not written twice.
    from = *last != 0
               ? *last - cdr_catchup_state::startup_overlap_seconds * second
               : limit;
  }
  return std::make_pair(std::max(from, limit), to);
}

/// Whether a call rebuilt from CDR rows may have ended within (from, to],
/// the PBX's clock. A row's times are whole seconds: calldate is the start
/// cut to the second and duration the time since it cut to the second, so
/// the end they give is up to 2 s before the real one. A call that ended
/// before the gap was seen whole (one that ended just before it is written
/// again at most, and the store keeps the first); one that had not ended by
/// the re-sync was live at it (or began after it) and is seen ending.
bool may_have_ended_in(const completed_call& call, unix_micros from,
                       unix_micros to) {
  return call.ended_at + cdr_catchup_state::cdr_time_slack_seconds * second
             > from
         && call.ended_at <= to && call.started_at < to;
}

/// Reads and hands on one gap's calls; an error leaves the gap queued.
caf::error catch_up(self_ptr self, const cdr_gap& gap) {
  auto& st = self->state;
  if (!st.store) {
    auto db = store::database::open(st.store_url);
    if (!db)
      return std::move(db.error());
    st.store = std::move(*db);
  }
  if (!st.cdr) {
    cdr::open_options options;
    options.password = st.pbx.cdr_password;
    options.timezone = st.pbx.timezone;
    auto db = cdr::database::open(st.pbx.cdr_url, options);
    if (!db)
      return std::move(db.error());
    st.cdr = std::move(*db);
  }
  auto window = window_of(st, gap);
  if (!window)
    return std::move(window.error());
  auto [from, to] = *window;
  if (to <= from)
    return caf::none;
  auto rows = st.cdr->calls_between(
      from - cdr_catchup_state::lookback_seconds * second, to);
  if (!rows)
    return std::move(rows.error());
  st.rows_read->inc(static_cast<double>(rows->size()));
  std::unordered_set<std::string> live(gap.live.begin(), gap.live.end());
  std::vector<completed_call> batch;
  for (auto& call : calls_from_cdr(std::move(*rows), st.pbx)) {
    if (!gap.linkedid.empty()) {
      // One call whose stream had a gap: the CDR's figures replace them.
      if (call.ext_message_id != gap.linkedid)
        continue;
      call.supersedes = true;
      batch.push_back(std::move(call));
      continue;
    }
    if (!may_have_ended_in(call, from, to)
        || live.count(call.ext_message_id) > 0)
      continue;
    batch.push_back(std::move(call));
  }
  log::info(cdr_catchup_state::name, "caught up from the CDR database",
            {{"pbx", st.pbx.name},
             {"from", iso8601_utc(from)},
             {"to", iso8601_utc(to)},
             {"calls", std::to_string(batch.size())}});
  st.recovered->inc(static_cast<double>(batch.size()));
  if (!batch.empty() && st.matcher)
    self->send(caf::actor_cast<customer_matcher_actor>(st.matcher),
               std::move(batch));
  return caf::none;
}

void run(self_ptr self) {
  auto& st = self->state;
  while (!st.pending.empty()) {
    auto err = catch_up(self, st.pending.front());
    if (err) {
      st.errors->inc();
      st.last_error = describe(err);
      st.cdr.reset();
      st.store.reset();
      if (!st.down) {
        st.backoff = cdr_catchup_state::retry_backoff_initial;
        log::warning(cdr_catchup_state::name,
                     "CDR database unavailable; gaps are kept and retried "
                     "with backoff (AMI logging goes on)",
                     {{"pbx", st.pbx.name}, {"error", st.last_error}});
      } else {
        st.backoff
            = std::min(st.backoff * 2, cdr_catchup_state::retry_backoff_max);
      }
      st.down = true;
      st.up->set(0);
      publish(st, "down");
      if (!st.retry_scheduled) {
        st.retry_scheduled = true;
        self->delayed_send(self, st.backoff, retry_atom_v);
      }
      return;
    }
    st.pending.pop_front();
    if (st.down)
      log::info(cdr_catchup_state::name, "CDR database available again",
                {{"pbx", st.pbx.name}});
    st.down = false;
    st.up->set(1);
    publish(st, "up");
  }
}

} // namespace

cdr_catchup_actor::behavior_type
cdr_catchup(cdr_catchup_actor::stateful_pointer<cdr_catchup_state> self,
            pbx_config pbx, std::string store_url, caf::actor matcher,
            std::shared_ptr<cdr::status_board> board) {
  auto& st = self->state;
  st.pbx = std::move(pbx);
  st.store_url = std::move(store_url);
  st.matcher = std::move(matcher);
  st.board = board ? std::move(board) : std::make_shared<cdr::status_board>();
  auto& reg = metrics::global();
  metrics::label_set l{{"pbx", st.pbx.name}};
  st.up = &reg.get_gauge("switchboard_cdr_up",
                         "1 when the PBX's CDR database answered the last "
                         "catch-up, 0 while it is unavailable.",
                         l);
  st.pending_gauge = &reg.get_gauge("switchboard_cdr_pending_gaps",
                                    "Gaps waiting for the CDR database.", l);
  st.rows_read = &reg.get_counter("switchboard_cdr_rows_read_total",
                                  "CDR rows read by the catch-up.", l);
  st.recovered = &reg.get_counter(
      "switchboard_cdr_calls_recovered_total",
      "Calls rebuilt from the CDR database and handed to the comms log "
      "(those already logged are not written again).",
      l);
  st.errors = &reg.get_counter("switchboard_cdr_errors_total",
                               "Failed catch-up attempts.", l);
  publish(st, "unknown");
  return {
      [self](cdr_gap_atom, cdr_gap& gap) {
        self->state.pending.push_back(std::move(gap));
        if (!self->state.down)
          run(self);
        else
          publish(self->state, "down");
      },
      [self](retry_atom) {
        self->state.retry_scheduled = false;
        run(self);
      },
      [self](rewire_atom, caf::actor& matcher) {
        self->state.matcher = std::move(matcher);
      },
  };
}

} // namespace sb
