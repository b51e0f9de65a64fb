#pragma once

// switchboard's configuration.
//
// Sources, later ones winning: built-in defaults, the config file (--config,
// INI: `[section]` / `[pbx.<name>]`, `key = value`), environment variables
// `SWITCHBOARD_<SECTION>_<KEY>` (PBX keys: `SWITCHBOARD_PBX_<NAME>_<KEY>`; the
// seed names AMI_HOST / AMI_PORT / AMI_USERNAME / AMI_PASSWORD configure the
// PBX named "default"), then CLI flags `--<section>.<key>=<value>`. Secrets
// (pbx secret, http tokens, ozonetel api_key / agent_password /
// callback_token) are accepted from the file, the environment or a
// `<key>_file` path, never from the command line, and are never printed.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace sb {

enum class ami_auth { plain, md5 };

struct pbx_config {
  /// Config name, used in logs, metrics and completed_call::origin.
  std::string name = "default";
  std::string host;
  uint16_t port = 5038;
  std::string username;
  std::string secret; // secret
  ami_auth auth = ami_auth::plain;
  /// `Events:` of the Login action: "on" or a class list.
  std::string events = "call,cdr";
  double ping_interval_seconds = 10;
  /// No Pong within this time = dead connection.
  double ping_timeout_seconds = 5;
  /// Banner + login must complete within this time.
  double login_timeout_seconds = 10;
  /// Frames larger than this are dropped and counted.
  size_t max_frame_bytes = 64 * 1024;
  /// Drop, in the reader, the events the call tracker never reads (VarSet,
  /// Newexten, ...: most of a FreePBX stream); they are still counted. Off
  /// only for tests that check the raw stream.
  bool drop_unread_events = true;
  /// Bytes read from this PBX and not yet through the call tracker (with
  /// room at the writer for the calls they complete); at the bound the
  /// socket is not read until the pipeline caught up.
  size_t max_queued_bytes = 4 * 1024 * 1024;
  /// Calls followed at once; a new call past it is not followed (counted,
  /// warned; its events are dropped and counted).
  size_t max_live_calls = 10000;
  /// Channel-name prefixes of trunks (besides the context rules), e.g.
  /// "PJSIP/trunk-", "SIP/carrier". Empty = rely on contexts.
  std::vector<std::string> trunks;
  /// Dialplan contexts where calls from a trunk enter (inbound).
  std::vector<std::string> inbound_contexts = {"from-pstn", "from-trunk"};
  /// Contexts of calls placed by phones.
  std::vector<std::string> internal_contexts = {"from-internal"};
  /// Contexts through which calls leave towards a trunk (outbound).
  std::vector<std::string> outbound_contexts = {"macro-dialout-trunk"};
  /// The PBX's CDR database (mysql://user@host[:port]/asteriskcdrdb), read
  /// to catch up on calls whose events were never seen; empty = none.
  std::string cdr_url;
  std::string cdr_password; // secret
  /// At start-up, catch up from the last call logged from this PBX, but
  /// never further back than this.
  double cdr_catchup_hours = 24;
  /// The time zone of the CDR's calldate (the PBX's local time): UTC, an
  /// offset such as +05:30, or a name the CDR server knows.
  std::string timezone = "UTC";
  /// Recording URL template: {file} is the recording's file name.
  std::string recording_url;
  /// Click-to-call (POST /api/calls/originate): the Originate's Channel,
  /// `{extension}` replaced by the extension asked for.
  std::string originate_channel = "PJSIP/{extension}";
  /// The Originate's Context (where the number is dialled from).
  std::string originate_context = "from-internal";
  /// The Originate's CallerID, shown on the agent's phone while it rings:
  /// `{name}` (the customer's name, else the number), `{phone_number}`,
  /// `{extension}`.
  std::string originate_caller_id = "\"{name}\" <{phone_number}>";
  /// How long the agent's phone rings before the Originate gives up
  /// (its Timeout).
  double originate_ring_seconds = 30;
  /// How long the PBX may take to answer the Originate action itself.
  double originate_answer_seconds = 5;
  /// Originate actions sent and not yet answered by the PBX.
  size_t max_pending_originates = 32;
};

struct db_config {
  /// `sqlite:<path>` or `postgresql://user:pass@host:port/db`. (The password
  /// in a URL is a secret: never printed.)
  std::string url = "sqlite:switchboard.db";
  /// Most records per transaction.
  size_t batch_size = 1000;
  /// Records held in memory while the database is down, before spooling.
  size_t max_pending = 100000;
  /// Where records go when the in-memory buffer is full.
  std::string spool_path = "switchboard.spool";
  /// Largest size of the spool file in MiB; past it records stay in memory
  /// and an error is logged (the alert fires well before).
  size_t spool_max_mb = 1024;
  /// How long a stop may take to commit what the pipeline holds; what is
  /// not committed by then is spooled.
  double shutdown_timeout_seconds = 10;
};

struct http_config {
  std::string listen = "127.0.0.1:8080";
  /// Bearer token with read + write scope. Empty = API disabled (only
  /// /healthz, /readyz, /metrics answer) — secret.
  std::string token;
  /// Optional bearer token with read scope only — secret.
  std::string read_token;
  size_t max_body_bytes = 1024 * 1024;
  /// How long a request waits for an actor's answer.
  double request_timeout_seconds = 5;
  unsigned threads = 8;
  /// Origins (scheme://host[:port], comma-separated) whose browser pages may
  /// call the API (CORS). Empty = none.
  std::string cors_origins;
};

struct phone_config {
  /// ISO 3166 region for numbers without a country code.
  std::string default_region = "GB";
};

struct tracker_config {
  /// A call with no event for this long after its PBX connection dropped is
  /// finalized with the incomplete flag.
  double stale_call_seconds = 300;
  /// Upper bound for any call's life without a Hangup (PBX bug, lost events).
  double max_call_seconds = 4 * 3600;
  /// Completed calls handed on by the tracker and not yet committed or
  /// spooled by the writer; at the bound the tracker holds back its answers
  /// and the PBX readers stop reading.
  size_t max_queued_calls = 5000;
};

/// One CloudAgent agent from a `[ozonetel.agent.<id>]` section.
struct ozonetel_agent_config {
  std::string id;
  std::string name;
  /// The agent's SIP extension / phone number (AgentAuthenticationV2 login).
  std::string extension;
  std::string password; // secret
};

struct ozonetel_config {
  std::string api_base = "https://in1-ccaas-api.ozonetel.com";
  std::string account;
  std::string api_key; // secret
  std::string agent_id;
  std::string agent_password; // secret
  std::string campaign;
  std::string did;
  /// Internal disposition name -> campaign disposition name.
  std::map<std::string, std::string> disposition_map;
  std::string default_disposition = "General";
  /// After a call ends, the default disposition is sent if the agent set none
  /// within this time (the seat must never stay in after-call work).
  double acw_timeout_seconds = 60;
  /// Token CloudAgent's callback URL carries as ?token= — secret.
  std::string callback_token;
  double request_timeout_seconds = 10;
  /// Outbound-pending flag lifetime.
  double pending_outbound_seconds = 30;
  /// CloudAgent's Subscribe API base ("https://subscription.ozonetel.com");
  /// with public_url set, switchboard subscribes at start.
  std::string subscribe_base;
  /// A failed Subscribe call is retried until it succeeds: 1 s doubling
  /// (with jitter) up to this.
  double subscribe_retry_max_seconds = 300;
  /// How CloudAgent reaches this server ("https://switchboard.example.com"):
  /// the event receivers' URLs are built on it.
  std::string public_url;
  /// The account's time zone: the callback's StartTime / EndTime are in it.
  std::string timezone = "Asia/Kolkata";
  /// Agents from [ozonetel.agent.<id>] sections (more come from the
  /// database); agent_id above is the default agent.
  std::vector<ozonetel_agent_config> agents;

  bool enabled() const {
    return !account.empty() && !api_key.empty();
  }
};

struct events_config {
  /// Events older than this are pruned from the event log.
  double retention_hours = 72;
  /// GET /api/events sends a `: keep-alive` comment this often.
  double heartbeat_seconds = 15;
  /// The live stream looks for new events at least this often (besides
  /// being woken by this process's appends and PostgreSQL NOTIFY).
  double poll_seconds = 1;
  /// Events queued for writing at most; past it new events are dropped,
  /// counted and logged (the calls themselves are still logged).
  size_t queue_max = 100000;
  /// What one stream subscriber may have unsent before it is dropped with
  /// a final stream.overflow event.
  size_t subscriber_buffer_bytes = 256 * 1024;
  /// A subscriber whose buffer stays full this long is dropped with a final
  /// stream.overflow event.
  double stall_seconds = 5;
};

/// One `[webhook.<name>]` endpoint: the events it selects are POSTed to it,
/// signed, in order, at least once.
struct webhook_config {
  /// Config name: the endpoint's identity in the database and metrics.
  std::string name;
  /// http:// or https:// URL the events are POSTed to.
  std::string url;
  /// HMAC-SHA256 key of X-Switchboard-Signature — secret.
  std::string secret;
  /// Event types sent; empty = every type.
  std::vector<std::string> events;
  /// One POST (connect, send, answer) must finish within this time.
  double timeout_seconds = 10;
  /// Attempts of one event before it is dead-lettered and skipped.
  size_t max_attempts = 10;
  /// The first retry waits this long; each further one twice as long (with
  /// jitter), up to retry_max_seconds.
  double retry_initial_seconds = 1;
  double retry_max_seconds = 300;
};

struct log_config {
  /// "debug" | "info" | "warning" | "error"
  std::string level = "info";
};

struct app_config {
  db_config db;
  http_config http;
  phone_config phone;
  tracker_config tracker;
  ozonetel_config ozonetel;
  events_config events;
  log_config log;
  std::vector<pbx_config> pbxes;
  std::vector<webhook_config> webhooks;
  /// The file loaded (--config or SWITCHBOARD_CONFIG); empty when none.
  std::string config_file;
  /// Informational lines about how the sources were read (e.g. an empty
  /// AMI_HOST), for the caller to log once at start-up.
  std::vector<std::string> notes;
  /// `--help` / `-h` was given: print help_text() and exit 0. Nothing else
  /// was parsed or checked.
  bool help_requested = false;
};

/// Parses argv (flags and --config), the environment and the file. Errors
/// name the offending key and never contain a secret value. Positional
/// arguments (sub-commands like `demo`, `import-customers FILE`) are returned
/// in `positional`.
caf::expected<app_config>
load_config(int argc, const char* const* argv, const char* const* envp,
            std::vector<std::string>* positional = nullptr);

/// Parses a config file's text alone (for tests and `--config`).
caf::expected<app_config> parse_config_text(const std::string& text,
                                            app_config base = {});

/// A human-readable dump with every secret replaced by "***". Its output is
/// itself an INI file (secrets aside).
std::string describe(const app_config& cfg);

/// `--help`: usage, then every key with its default, environment variable
/// and CLI flag.
std::string help_text();

/// The one-line text of a load_config / parse_config_text error (names the
/// key and, for file errors, the file line; never a secret value).
std::string error_text(const caf::error& err);

} // namespace sb
