#pragma once

// The CloudAgent call book: every call switchboard follows by its UCID, the
// outbound-pending flag and the dial in flight, and every transition of a
// call's life. No actors and no I/O: each input takes the time as a value
// and returns what to do as data (entries for the comms log, dispositions
// for CloudAgent, timers with their deadlines, notices to log); ucid_calls
// performs it.
//
// A call's life: dialing -> ringing -> answered -> (ended) -> acw -> disposed,
// or missed. `ended` is final for calls that need no disposition from us
// (another agent's call, or a disposition CloudAgent refused).

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/optional.hpp>

#include "config/config.hpp"
#include "core/time.hpp"
#include "messages/calls.hpp"
#include "messages/ozonetel.hpp"
#include "messages/ozonetel_agents.hpp"

namespace sb {

enum class ucid_call_phase : uint8_t {
  dialing,
  ringing,
  answered,
  ended,
  acw,
  disposed,
  missed
};

const char* to_string(ucid_call_phase x) noexcept;

bool from_string(std::string_view s, ucid_call_phase& x) noexcept;

/// No more changes expected (the entry went out).
bool terminal(ucid_call_phase p) noexcept;

/// The line is up or about to be.
bool live(ucid_call_phase p) noexcept;

enum class disposition_progress : uint8_t {
  /// Nothing sent yet.
  none,
  /// A request is with the session.
  sending,
  /// CloudAgent was down: a retry is scheduled.
  retrying,
  /// CloudAgent took it (saved, queued, or already disposed).
  done,
  /// CloudAgent refused even the default disposition.
  failed,
};

struct ucid_call {
  std::string ucid;
  call_direction direction = call_direction::inbound;
  ucid_call_phase phase = ucid_call_phase::dialing;
  std::string agent_id;
  std::string external_number;
  std::string did;
  std::string campaign;
  caf::optional<int64_t> customer_id;
  unix_micros created_at = 0;
  unix_micros ringing_at = 0;
  unix_micros answered_at = 0;
  unix_micros ended_at = 0;
  bool answered = false;
  /// How an unanswered call ended (no_answer, busy, failed).
  call_disposition unanswered_outcome = call_disposition::no_answer;
  /// Finalized without its end (max_call_age): times are best known.
  bool incomplete = false;

  disposition_progress progress = disposition_progress::none;
  /// As the agent named it (ours, e.g. APPOINTMENT_BOOKED, or a campaign
  /// name); empty for the automatic default.
  std::string disposition_name;
  /// What CloudAgent was (or is being) sent.
  std::string campaign_disposition;
  std::string notes;
  std::string callback_time;
  /// Sent by switchboard because the agent set none in time.
  bool automatic = false;
  /// Disposed in CloudAgent by someone else (the callback says so).
  bool disposed_elsewhere = false;
  int disposition_attempts = 0;
  std::string disposition_answer;
  /// Invalidates older ACW timers.
  uint64_t acw_generation = 0;
  /// When after-call work began (its timeout counts from here, also across
  /// a restart).
  unix_micros acw_started_at = 0;
  /// The next retry of a disposition CloudAgent did not take (0 = none).
  unix_micros retry_due = 0;

  /// The CRM's reference (the seed's leadId).
  std::string crm_ref;
  /// The call's recording (the callback's AudioFile).
  std::string recording;
  /// The seed's durationSec: used when nothing better is known.
  int64_t fallback_duration_seconds = -1;
  /// Set from CloudAgent's call events (Subscribe API).
  bool events_seen = false;

  bool callback_seen = false;
  int64_t callback_duration_seconds = 0;
  int64_t callback_talk_seconds = 0;

  /// Entries handed to the comms log (a late callback sends a second, which
  /// the writer merges into the same row).
  int emitted = 0;
  /// Of those, how many are known to be in the comms log (checked at
  /// start-up): fewer than `emitted` means the last one may have died with
  /// the process between this state being stored and the writer's commit.
  int entries_confirmed = 0;
  unix_micros finished_at = 0;
};

/// The comms entry of a call, as the matcher receives it.
completed_call to_completed(const ucid_call& call, const std::string& account);

/// A call as GET /api/calls/active shows it.
live_call to_live(const ucid_call& call, const std::string& account);

/// The entry's notes: the disposition (and how it was set) and the agent's
/// notes.
std::string entry_notes(const ucid_call& call);

/// Our disposition name or a campaign name -> the campaign's name; none when
/// unknown.
caf::optional<std::string> campaign_disposition(const ozonetel_config& cfg,
                                                const std::string& name);

/// A reply naming the call's UCID, phase and disposition (when given one).
ucid_reply make_reply(ucid_reply_code code, std::string message,
                      const ucid_call* call = nullptr);

/// Answers that mean "no CloudAgent to talk to" become 503, the rest 502.
ucid_reply_code failure_code(const ozonetel_answer& answer);

/// Keeps the digits and a leading '+' of a number as typed.
std::string normalized_number(const std::string& text);

/// The delay before attempt `attempt` (1-based): `initial`, doubling up to
/// `max`.
std::chrono::milliseconds doubling_delay(std::chrono::milliseconds initial,
                                         std::chrono::milliseconds max,
                                         int attempt);

/// What the book's deadlines depend on besides the Ozonetel config.
struct call_book_timing {
  /// Disposition retries while CloudAgent is down: first delay, doubling up
  /// to the maximum, for as long as it takes.
  std::chrono::milliseconds retry_initial{2000};
  std::chrono::milliseconds retry_max{60000};
  /// Finished calls are kept this long, so that a late callback or a second
  /// dispose finds them (and merges / is refused) instead of starting over.
  std::chrono::seconds finished_retention{3600};
  /// A call that never ends (no event, no callback) is closed after this.
  std::chrono::seconds max_call_age{4 * 3600};
};

enum class call_timer_kind : uint8_t {
  /// The outbound-pending flag's lifetime (ozonetel.pending_outbound_seconds).
  pending_expiry,
  /// After-call work without a disposition (ozonetel.acw_timeout_seconds).
  acw,
  /// The next attempt at a disposition CloudAgent did not take.
  retry,
};

/// A timer to arm: at `due`, hand `kind` with `ucid` and `generation` back
/// to the book.
struct call_timer {
  call_timer_kind kind = call_timer_kind::acw;
  std::string ucid;
  /// Names this timer (pending flag, ACW); a stale one does nothing.
  uint64_t generation = 0;
  unix_micros due = 0;
};

/// One comms entry for the matcher.
struct call_entry {
  completed_call call;
  /// The call's phase when it went out.
  ucid_call_phase phase = ucid_call_phase::ended;
  /// A second entry for the same call (the writer merges it).
  bool update = false;
  std::string disposition;
};

enum class call_notice_kind : uint8_t {
  /// A browser event named a UCID we did not dial (detail: -).
  inbound_call,
  /// The callback named a call never seen before (detail: type, extra:
  /// status).
  callback_only_call,
  /// The outbound-pending flag went (detail: why).
  pending_cleared,
  /// The outbound-pending flag reached its lifetime.
  pending_expired,
  /// CloudAgent took a disposition (detail: disposition, extra: outcome).
  disposition_set,
  /// CloudAgent did not take a disposition; a retry is armed (detail:
  /// outcome, extra: CloudAgent's message, delay_ms).
  disposition_retry,
  /// CloudAgent refused the default disposition (detail: disposition, extra:
  /// CloudAgent's message, answer: its raw answer).
  default_refused,
  /// After-call work timed out: the default goes out (detail: disposition).
  automatic_disposition,
  /// A call never ended and is closed (detail: its phase).
  never_ended,
};

/// Something worth a log line (and maybe a counter).
struct call_notice {
  call_notice_kind kind = call_notice_kind::inbound_call;
  std::string ucid;
  std::string detail;
  std::string extra;
  /// disposition_set: the disposition was switchboard's own default.
  bool automatic = false;
  /// disposition_retry: milliseconds until the retry.
  int64_t delay_ms = 0;
  /// default_refused: CloudAgent's answer as it came.
  std::string answer;
};

/// A notice of `kind` about call `ucid`.
call_notice make_notice(call_notice_kind kind, std::string ucid,
                        std::string detail = {}, std::string extra = {});

/// What an input asks of the actor, in order within each list.
struct call_effects {
  std::vector<call_entry> entries;
  /// Dispositions to send CloudAgent; each answer comes back through
  /// on_disposition_answer.
  std::vector<ozonetel_disposition> dispositions;
  std::vector<call_timer> timers;
  std::vector<call_notice> notices;
};

class ozonetel_call_book {
public:
  /// The outbound-pending flag: one agent, one dial, one lifetime. Cleared
  /// when the dial's bridge is answered, when its call ends or fails, and
  /// when it expires; never matched against a call with another UCID.
  struct pending_outbound {
    std::string ucid;
    std::string agent_id;
    uint64_t generation = 0;
    std::string number;
    unix_micros since = 0;
  };

  explicit ozonetel_call_book(ozonetel_config cfg,
                              call_book_timing timing = {});

  const ozonetel_config& config() const noexcept {
    return cfg_;
  }

  // -- inputs ----------------------------------------------------------------

  /// A dial request. None when it may go to CloudAgent (the book then holds
  /// the dial as in flight and `number` is what to dial); otherwise the
  /// refusal. `session_up`: there is a session to place it.
  caf::optional<ucid_reply> begin_dial(const ozonetel_dial_request& req,
                                       bool session_up, std::string& number);

  /// CloudAgent's answer to the dial in flight, at `now`.
  ucid_reply on_dial_answer(ozonetel_answer answer, const std::string& number,
                            caf::optional<int64_t> customer_id, unix_micros now,
                            call_effects& out);

  /// As above, for the dial of agent `agent_id`.
  ucid_reply on_dial_answer(ozonetel_answer answer, const std::string& agent_id,
                            const std::string& number,
                            caf::optional<int64_t> customer_id, unix_micros now,
                            call_effects& out);

  /// The dial in flight got no answer from the session.
  void dial_failed(const std::string& agent_id = {});

  /// begin_dial() with the time the dial was asked for (the agent view
  /// shows it as the pending dial's start).
  caf::optional<ucid_reply> begin_dial(const ozonetel_dial_request& req,
                                       bool session_up, std::string& number,
                                       unix_micros now);

  /// A browser event, at `now` unless it says when it happened.
  ucid_reply on_browser(const browser_call_event& ev, unix_micros now,
                        call_effects& out);

  /// The agent's disposition. None when it goes to CloudAgent (it is in
  /// `out.dispositions`); otherwise the refusal.
  caf::optional<ucid_reply> dispose(const ozonetel_dispose_request& req,
                                    call_effects& out);

  /// As above at `now`: a UCID switchboard never saw is disposed for the
  /// named agent (or the default one) all the same, and its entry written
  /// from the request's fallbacks, so that the seat is released.
  caf::optional<ucid_reply> dispose(const ozonetel_dispose_request& req,
                                    unix_micros now, call_effects& out);

  /// CloudAgent's call-details callback, received at `now` unless it says.
  ucid_reply on_callback(const ozonetel_call_details& d, unix_micros now,
                         call_effects& out);

  /// CloudAgent's (or the session's) answer to a disposition; the reply for
  /// whoever asked for it.
  ucid_reply on_disposition_answer(const std::string& ucid,
                                   ozonetel_answer answer, unix_micros now,
                                   call_effects& out);

  /// A timer armed by the book came due at `now`.
  void on_timer(const call_timer& timer, unix_micros now, call_effects& out);

  /// Forgets calls finished longer than the retention ago and closes live
  /// calls older than the maximum age.
  void sweep(unix_micros now, call_effects& out);

  // -- views -----------------------------------------------------------------

  /// Null for an empty or unknown UCID.
  const ucid_call* find(const std::string& ucid) const;

  /// The default agent's pending dial (see pending(agent)).
  caf::optional<pending_outbound> pending() const;

  caf::optional<pending_outbound> pending(const std::string& agent_id) const;

  /// The default agent's dial is with CloudAgent.
  bool dial_in_flight() const;

  bool dial_in_flight(const std::string& agent_id) const;

  /// The configured agent's call on the line or in after-call work:
  /// answered before ringing before dialing before after-call work, the
  /// newest first.
  const ucid_call* current_call() const;

  /// UCIDs of the configured agent's calls in after-call work, sorted.
  std::vector<std::string> awaiting_disposition() const;

  /// Our side of the default agent (see agent_view(agent)).
  ozonetel_agent_view agent_view() const;

  /// The agent's call on the line or in after-call work (as current_call()).
  const ucid_call* current_call(const std::string& agent_id) const;

  /// The agent's calls in after-call work, sorted by UCID.
  std::vector<std::string>
  awaiting_disposition(const std::string& agent_id) const;

  /// Our side of one agent plus CloudAgent's latest word from its events:
  /// current call, pending dial, calls awaiting a disposition; never ready
  /// while a call holds the seat.
  ozonetel_agent_view agent_view(const std::string& agent_id) const;

  /// The agent, or the default agent when empty.
  std::string agent_or_default(const std::string& agent_id) const;

  /// A configured or stored agent (the default agent always is).
  bool known_agent(const std::string& agent_id) const;

  /// Replaces the known agents besides the default one.
  void set_agents(std::set<std::string> ids);

  const std::set<std::string>& agents() const noexcept {
    return agents_;
  }

  // -- CloudAgent's events, durability ---------------------------------------

  /// A call event from CloudAgent (Subscribe API): follows the call by its
  /// UCID; a call never moves backwards (a late Calling after Answered, an
  /// Answered after Disconnect change nothing).
  ucid_reply on_call_event(const ozonetel_call_event& ev, unix_micros now,
                           call_effects& out);

  /// An agent event: the newest by event time is CloudAgent's word.
  void on_agent_event(const ozonetel_agent_event& ev, unix_micros now);

  /// A call as it was stored (after a restart).
  void restore(ucid_call call);

  /// After restore(): arms the after-call-work timers still running, sends
  /// the default disposition for calls whose time ran out while down, and
  /// resumes every disposition that was being sent or retried.
  void resume(unix_micros now, call_effects& out);

  /// UCIDs of calls whose last entry is not known to be in the comms log
  /// (emitted, not confirmed), sorted.
  std::vector<std::string> unconfirmed_entries() const;

  /// The call's entries are in the comms log (stored with the call).
  void confirm_entries(const std::string& ucid);

  /// UCIDs changed since the last call (to store), and forgotten ones (to
  /// delete); both cleared.
  std::vector<std::string> take_changed();
  std::vector<std::string> take_forgotten();

  /// Dispositions being sent or retried.
  size_t pending_dispositions() const;

  /// Force Ready: every call of the agent in after-call work gets its
  /// disposition now: a retrying one is sent at once, one without any the
  /// default (as if after-call work had timed out).
  void flush_dispositions(const std::string& agent_id, call_effects& out);

  /// Calls still up, oldest first.
  std::vector<live_call> live_calls() const;

  size_t live_count() const;

  size_t size() const noexcept {
    return calls_.size();
  }

private:
  struct dial_in_flight_info {
    std::string number;
    unix_micros since = 0;
  };

  ucid_call* find_mutable(const std::string& ucid);
  ucid_call& create(const std::string& ucid, call_direction direction,
                    ucid_call_phase phase, unix_micros at,
                    const std::string& agent_id);
  ucid_call* pending_call(const std::string& agent_id);
  void touch(const std::string& ucid);
  void answer_call(ucid_call& call, unix_micros at, call_effects& out);
  void clear_pending_if(const std::string& ucid, const char* why,
                        call_effects& out);
  bool needs_disposition(const ucid_call& call) const;
  void emit(ucid_call& call, unix_micros now, call_effects& out);
  void settle_after_disposition(ucid_call& call, unix_micros now,
                                call_effects& out);
  void send_disposition(ucid_call& call, call_effects& out);
  void start_acw(ucid_call& call, unix_micros now, call_effects& out);
  void end_call(ucid_call& call, unix_micros at, unix_micros now,
                call_effects& out);
  void on_acw_timeout(const std::string& ucid, uint64_t generation,
                      call_effects& out);

  ozonetel_config cfg_;
  call_book_timing timing_;
  std::unordered_map<std::string, ucid_call> calls_;
  /// Per agent: the outbound-pending flag of its dial.
  std::unordered_map<std::string, pending_outbound> pending_;
  uint64_t next_generation_ = 1;
  /// Per agent: a dial request is with CloudAgent (a second one would race
  /// it).
  std::unordered_map<std::string, dial_in_flight_info> dial_in_flight_;
  /// Agents besides the default one.
  std::set<std::string> agents_;
  /// Per agent: CloudAgent's latest state from its events, and its time.
  struct agent_word {
    std::string state = "unknown";
    unix_micros at = 0;
  };
  std::unordered_map<std::string, agent_word> agent_states_;
  std::unordered_set<std::string> changed_;
  std::unordered_set<std::string> forgotten_;
};

} // namespace sb
