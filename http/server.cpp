#include "http/server.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <thread>
#include <unordered_map>

#include <caf/send.hpp>

#include "adapters/metrics/registry.hpp"
#include "adapters/phone/normalizer.hpp"
#include "core/log.hpp"
#include "core/strings.hpp"
#include "http/cursor.hpp"

namespace sb {

namespace {

using httplib::Request;
using httplib::Response;

constexpr int64_t default_page = 50;
constexpr int64_t max_page = 500;
/// Notes are free text, but a comms-log body is not a document store.
constexpr size_t max_notes_bytes = 16 * 1024;
constexpr size_t max_idempotency_key_bytes = 200;

std::chrono::milliseconds to_millis(caf::timespan t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t);
}

caf::optional<int64_t> parse_positive_id(const std::string& text) {
  int64_t x = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
  if (ec != std::errc{} || ptr != text.data() + text.size() || x <= 0)
    return caf::none;
  return x;
}

bool printable_ascii(const std::string& s) {
  for (char c : s)
    if (c < 0x21 || c > 0x7e)
      return false;
  return true;
}

bool is_timeout(const caf::error& err) {
  return err.category() == caf::atom("system")
         && err.code() == static_cast<uint8_t>(caf::sec::request_timeout);
}

/// Parses "host:port" / "[v6]:port" / ":port".
bool split_listen(const std::string& listen, std::string& host, int& port) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos)
    return false;
  host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty())
    host = "0.0.0.0";
  auto digits = listen.substr(colon + 1);
  auto [ptr, ec]
      = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  return ec == std::errc{} && ptr == digits.data() + digits.size() && port >= 0
         && port <= 65535;
}

} // namespace

void send_failure(httplib::Response& res, const std::string& what,
                  const caf::error& err) {
  if (is_timeout(err)) {
    http::send_error(res, 503, "timeout",
                     what + " did not answer in time; retry later");
    return;
  }
  if (err.category() == caf::atom("system")
      && err.code() == static_cast<uint8_t>(caf::sec::invalid_argument)) {
    // The store refused the data itself (a constraint): retrying the same
    // request fails again.
    http::send_error(res, 422, "rejected",
                     "the database refused this request: " + describe(err));
    return;
  }
  if (what == "database" || store::is_unavailable(err)) {
    auto text = describe(err);
    if (text.rfind("database unavailable", 0) != 0)
      text = "database unavailable: " + text;
    http::send_error(res, 503, "database_unavailable", text + "; retry later");
    return;
  }
  http::send_error(res, 503, "unavailable",
                   what + " unavailable: " + describe(err));
}

// -- the handlers ---------------------------------------------------------

struct http_server::impl {
  impl(http_deps& deps, http_context& ctx)
      : deps(deps), ctx(ctx), phones(deps.config.phone.default_region) {}

  http_deps& deps;
  http_context& ctx;
  phone::normalizer phones;

  std::chrono::milliseconds wait() const {
    return to_millis(ctx.timeout);
  }

  void mount(http::router& r) {
    using http::scope;
    r.post("/api/crm/calls/log", scope::write,
           [this](const Request& req, Response& res) { log_call(req, res); });
    r.get("/api/crm/comms", scope::read,
          [this](const Request& req, Response& res) { comms(req, res); });
    r.post(
        "/api/crm/customers", scope::write,
        [this](const Request& req, Response& res) { add_customer(req, res); });
    r.get("/api/crm/customers", scope::read,
          [this](const Request& req, Response& res) {
            find_customers(req, res);
          });
    r.get(
        "/api/crm/customers/{id}", scope::read,
        [this](const Request& req, Response& res) { get_customer(req, res); });
    r.get(
        "/api/calls/active", scope::read,
        [this](const Request& req, Response& res) { active_calls(req, res); });
    r.get("/healthz", scope::none, [](const Request&, Response& res) {
      http::send_json(res, 200, R"({"status":"ok"})");
    });
    r.get("/readyz", scope::none,
          [this](const Request& req, Response& res) { ready(req, res); });
    r.on_request_done([this](const http::request_record& rec) { count(rec); });
  }

  void count(const http::request_record& rec) {
    // Registry lookups take its lock; each worker thread keeps the series it
    // has used (they live as long as the registry). Labelled by route
    // template (bounded), never by raw path.
    thread_local std::unordered_map<std::string, metrics::counter*> counters;
    thread_local std::unordered_map<std::string, metrics::histogram*> timings;
    auto status = std::to_string(rec.status);
    std::string key{rec.route};
    key += '\0';
    key += rec.method;
    key += '\0';
    key += status;
    auto& counter = counters[key];
    if (counter == nullptr)
      counter = &metrics::global().get_counter(
          "switchboard_http_requests_total",
          "HTTP requests served, by route, method and status.",
          {{"route", std::string{rec.route}},
           {"method", std::string{rec.method}},
           {"status", status}});
    counter->inc();
    auto& timing = timings[std::string{rec.route}];
    if (timing == nullptr)
      timing = &metrics::global().get_histogram(
          "switchboard_http_request_seconds",
          "Time from request routing to response, by route.",
          {{"route", std::string{rec.route}}},
          {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
           2.5, 5, 10});
    timing->observe(rec.seconds);
  }

  // POST /api/crm/calls/log
  void log_call(const Request& req, Response& res) {
    rapidjson::Document doc;
    if (!http::parse_json_object(req, res, doc))
      return;
    http::field_reader in{doc};
    auto customer_id = in.integer("customer_id", true, 1);
    auto direction = in.string("direction", true, 16);
    if (direction && *direction != "inbound" && *direction != "outbound")
      in.fail("direction", "must be \"inbound\" or \"outbound\"");
    auto duration = in.integer("duration_seconds", true, 0, INT32_MAX);
    auto notes = in.string("notes", false, max_notes_bytes);
    auto occurred_text = in.string("occurred_at", false, 64);
    caf::optional<unix_micros> occurred;
    if (occurred_text) {
      occurred = sb::parse_iso8601(*occurred_text);
      if (!occurred)
        in.fail("occurred_at",
                "must be an ISO-8601 time such as 2026-11-21T22:09:58Z");
    }
    if (!in.ok()) {
      in.send(res);
      return;
    }
    std::string key;
    if (req.has_header("Idempotency-Key")) {
      key = req.get_header_value("Idempotency-Key");
      if (key.empty() || key.size() > max_idempotency_key_bytes
          || !printable_ascii(key)) {
        http::send_error(res, 400, "invalid_idempotency_key",
                         "Idempotency-Key must be 1 to 200 printable ASCII "
                         "characters without spaces");
        return;
      }
    }
    auto found = ctx.reads.run(
        [&](store::database& db) { return db.get_customer(*customer_id); },
        wait());
    if (!found) {
      send_failure(res, "database", found.error());
      return;
    }
    if (!*found) {
      http::send_error(res, 404, "customer_not_found",
                       "no customer with id " + std::to_string(*customer_id)
                           + "; add it with POST /api/crm/customers first");
      return;
    }
    comms_entry entry;
    entry.customer_id = *customer_id;
    entry.type = "call";
    entry.source = "manual";
    entry.direction = *direction;
    entry.duration_seconds = *duration;
    entry.body = store::call_body(*duration, notes ? *notes : std::string{});
    auto when = occurred
                    ? *occurred
                    : std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
    entry.occurred_at = sb::iso8601_utc(when);
    auto stored
        = http_ask<comms_entry>(ctx, deps.writer, write_atom_v, entry, key);
    if (!stored) {
      send_failure(res, "comms log writer", stored.error());
      return;
    }
    if (!key.empty()
        && !same_request(entry, static_cast<bool>(occurred), *stored)) {
      http::send_error(res, 409, "idempotency_key_reused",
                       "this Idempotency-Key was already used for a "
                       "different call log (entry "
                           + std::to_string(stored->id)
                           + "); use a new key for a new call");
      return;
    }
    http::send_json(res, 201, http::to_json(*stored));
  }

  /// A retried POST must carry the same call; otherwise the key is reused.
  static bool same_request(const comms_entry& sent, bool occurred_given,
                           const comms_entry& stored) {
    if (stored.customer_id != sent.customer_id
        || stored.direction != sent.direction
        || stored.duration_seconds != sent.duration_seconds
        || stored.body != sent.body)
      return false;
    if (occurred_given) {
      auto a = sb::parse_iso8601(sent.occurred_at);
      auto b = sb::parse_iso8601(stored.occurred_at);
      if (!a || !b || *a / 1000000 != *b / 1000000)
        return false;
    }
    return true;
  }

  // GET /api/crm/comms
  void comms(const Request& req, Response& res) {
    static const char* known[]
        = {"type",  "customer_id", "direction", "source",
           "since", "until",       "limit",     "cursor"};
    for (auto& [name, value] : req.params) {
      (void)value;
      if (std::find_if(std::begin(known), std::end(known),
                       [&](const char* k) { return name == k; })
          == std::end(known)) {
        http::send_error(res, 400, "invalid_parameter",
                         "unknown query parameter '" + name
                             + "'; filters are type, customer_id, direction, "
                               "source, since, until, limit, cursor");
        return;
      }
    }
    auto param = [&](const char* name) {
      return req.has_param(name) ? req.get_param_value(name) : std::string{};
    };
    auto bad = [&](const std::string& message) {
      http::send_error(res, 400, "invalid_parameter", message);
    };
    comms_query q;
    q.type = param("type");
    if (!q.type.empty() && q.type != "call")
      return bad("type must be \"call\"");
    if (auto text = param("customer_id"); !text.empty()) {
      auto id = parse_positive_id(text);
      if (!id)
        return bad("customer_id must be a positive integer");
      q.customer_id = *id;
    }
    q.direction = param("direction");
    if (!q.direction.empty() && q.direction != "inbound"
        && q.direction != "outbound" && q.direction != "internal")
      return bad("direction must be inbound, outbound or internal");
    q.source = param("source");
    if (!q.source.empty() && q.source != "ami" && q.source != "ozonetel"
        && q.source != "manual")
      return bad("source must be ami, ozonetel or manual");
    caf::optional<unix_micros> since;
    caf::optional<unix_micros> until;
    if (auto text = param("since"); !text.empty()) {
      since = sb::parse_iso8601(text);
      if (!since)
        return bad("since must be an ISO-8601 time such as "
                   "2026-11-21T22:09:58Z");
      q.since = sb::iso8601_utc(*since);
    }
    if (auto text = param("until"); !text.empty()) {
      until = sb::parse_iso8601(text);
      if (!until)
        return bad("until must be an ISO-8601 time such as "
                   "2026-11-21T22:09:58Z");
      q.until = sb::iso8601_utc(*until);
    }
    if (since && until && *since > *until)
      return bad("since must not be after until");
    int64_t limit = default_page;
    if (auto text = param("limit"); !text.empty()) {
      auto n = parse_positive_id(text);
      if (!n || *n > max_page)
        return bad("limit must be an integer from 1 to "
                   + std::to_string(max_page));
      limit = *n;
    }
    if (auto text = param("cursor"); !text.empty()) {
      auto c = http::decode_cursor(text);
      if (!c)
        return bad("cursor is not one this server issued; pass next_cursor "
                   "of the previous page unchanged");
      q.cursor_occurred_at = c->occurred_at;
      q.cursor_id = c->id;
    }
    // One extra row tells whether another page follows. The store returns at
    // most max_page rows, so a full page of max_page always gets a cursor
    // (the next page may then be empty).
    q.limit = std::min<int64_t>(limit + 1, max_page);
    auto rows = ctx.reads.run(
        [&](store::database& db) { return db.query_comms(q); }, wait());
    if (!rows) {
      send_failure(res, "database", rows.error());
      return;
    }
    auto got = static_cast<int64_t>(rows->size());
    bool more = got > limit || (limit == max_page && got == max_page);
    if (more)
      rows->resize(static_cast<size_t>(limit));
    rapidjson::StringBuffer buf;
    http::json_writer w{buf};
    w.StartObject();
    w.Key("entries");
    w.StartArray();
    for (auto& e : *rows)
      http::write_json(w, e);
    w.EndArray();
    w.Key("next_cursor");
    if (more && !rows->empty()) {
      auto cursor
          = http::encode_cursor({rows->back().occurred_at, rows->back().id});
      w.String(cursor.c_str(), static_cast<rapidjson::SizeType>(cursor.size()));
    } else {
      w.Null();
    }
    w.EndObject();
    http::send_json(res, 200, {buf.GetString(), buf.GetSize()});
  }

  // POST /api/crm/customers
  void add_customer(const Request& req, Response& res) {
    rapidjson::Document doc;
    if (!http::parse_json_object(req, res, doc))
      return;
    http::field_reader in{doc};
    auto name = in.string("name", true, 512);
    if (name && trim(*name).empty())
      in.fail("name", "must not be empty");
    auto phone = in.string("phone", true, 64);
    std::string e164;
    if (phone) {
      e164 = phones.to_e164(*phone);
      if (e164.empty())
        in.fail("phone", "is not a dialable phone number (numbers without a "
                         "country code are read in region "
                             + phones.default_region() + ")");
    }
    if (!in.ok()) {
      in.send(res);
      return;
    }
    customer c;
    c.name = trim(*name);
    c.phone = trim(*phone);
    c.phone_e164 = e164;
    auto stored = http_ask<customer>(ctx, deps.writer, customer_atom_v, c);
    if (!stored) {
      send_failure(res, "comms log writer", stored.error());
      return;
    }
    // The matcher must know the number before the next call from it ends.
    if (deps.matcher)
      caf::anon_send(deps.matcher, customer_atom_v, *stored);
    res.set_header("Location",
                   "/api/crm/customers/" + std::to_string(stored->id));
    http::send_json(res, 201, http::to_json(*stored));
  }

  // GET /api/crm/customers?phone=
  void find_customers(const Request& req, Response& res) {
    if (!req.has_param("phone") || req.get_param_value("phone").empty()) {
      http::send_error(res, 400, "invalid_parameter",
                       "give the number to look up as ?phone= (any format); "
                       "fetch one customer with /api/crm/customers/{id}");
      return;
    }
    auto raw = req.get_param_value("phone");
    auto e164 = phones.to_e164(raw);
    if (e164.empty()) {
      http::send_error(res, 400, "invalid_parameter",
                       "phone is not a dialable phone number (numbers "
                       "without a country code are read in region "
                           + phones.default_region() + ")");
      return;
    }
    auto found = ctx.reads.run(
        [&](store::database& db) { return db.find_customers_by_e164(e164); },
        wait());
    if (!found) {
      send_failure(res, "database", found.error());
      return;
    }
    rapidjson::StringBuffer buf;
    http::json_writer w{buf};
    w.StartObject();
    w.Key("phone_e164");
    w.String(e164.c_str(), static_cast<rapidjson::SizeType>(e164.size()));
    w.Key("customers");
    w.StartArray();
    for (auto& c : *found)
      http::write_json(w, c);
    w.EndArray();
    w.EndObject();
    http::send_json(res, 200, {buf.GetString(), buf.GetSize()});
  }

  // GET /api/crm/customers/{id}
  void get_customer(const Request& req, Response& res) {
    auto id = parse_positive_id(http::path_param(req, 1));
    if (!id) {
      http::send_error(res, 400, "invalid_parameter",
                       "customer id must be a positive integer");
      return;
    }
    auto found = ctx.reads.run(
        [&](store::database& db) { return db.get_customer(*id); }, wait());
    if (!found) {
      send_failure(res, "database", found.error());
      return;
    }
    if (!*found) {
      http::send_error(res, 404, "customer_not_found",
                       "no customer with id " + std::to_string(*id));
      return;
    }
    http::send_json(res, 200, http::to_json(**found));
  }

  // GET /api/calls/active
  void active_calls(const Request&, Response& res) {
    std::vector<live_call> calls;
    std::vector<live_call_source> sources;
    if (deps.tracker)
      sources.push_back(live_calls_of(deps.system, "ami", deps.tracker));
    for (auto& s : deps.live_calls)
      sources.push_back(s);
    for (auto& s : sources) {
      auto part = s.fetch(ctx.timeout);
      if (!part) {
        send_failure(res, "live calls of " + s.name, part.error());
        return;
      }
      calls.insert(calls.end(), part->begin(), part->end());
    }
    std::stable_sort(calls.begin(), calls.end(),
                     [](const live_call& a, const live_call& b) {
                       return a.started_at < b.started_at;
                     });
    rapidjson::StringBuffer buf;
    http::json_writer w{buf};
    w.StartObject();
    w.Key("calls");
    w.StartArray();
    for (auto& c : calls)
      http::write_json(w, c);
    w.EndArray();
    w.EndObject();
    http::send_json(res, 200, {buf.GetString(), buf.GetSize()});
  }

  // GET /readyz
  void ready(const Request&, Response& res) {
    std::string reasons;
    auto add_reason = [&](const std::string& r) {
      if (!reasons.empty())
        reasons += "; ";
      reasons += r;
    };
    std::string db_state = "ok";
    auto ping
        = ctx.reads.run([](store::database& db) { return db.ping(); }, wait());
    if (!ping) {
      db_state = describe(ping.error());
      add_reason("database unreachable: " + db_state);
    }
    std::vector<connection_status> conns;
    if (deps.connections)
      conns = deps.connections();
    for (auto& c : conns)
      if (c.state != "logged_in") {
        std::string r = c.pbx + " is " + c.state;
        if (!c.last_error.empty())
          r += " (" + c.last_error + ")";
        add_reason(r);
      }
    rapidjson::StringBuffer buf;
    http::json_writer w{buf};
    w.StartObject();
    if (reasons.empty()) {
      w.Key("status");
      w.String("ready");
    } else {
      w.Key("error");
      w.String("not_ready");
      w.Key("message");
      w.String(reasons.c_str(),
               static_cast<rapidjson::SizeType>(reasons.size()));
    }
    w.Key("database");
    w.String(db_state.c_str(),
             static_cast<rapidjson::SizeType>(db_state.size()));
    w.Key("connections");
    w.StartArray();
    for (auto& c : conns)
      http::write_json(w, c);
    w.EndArray();
    w.EndObject();
    http::send_json(res, reasons.empty() ? 200 : 503,
                    {buf.GetString(), buf.GetSize()});
  }
};

// -- http_server -------------------------------------------------------------

namespace {

caf::timespan timeout_of(const app_config& cfg) {
  auto seconds = cfg.http.request_timeout_seconds > 0
                     ? cfg.http.request_timeout_seconds
                     : 5.0;
  return std::chrono::duration_cast<caf::timespan>(
      std::chrono::duration<double>(seconds));
}

size_t read_connections_of(const http_deps& deps) {
  if (deps.read_connections > 0)
    return deps.read_connections;
  return std::max<size_t>(1, std::min<size_t>(deps.config.http.threads, 4));
}

} // namespace

http_server::http_server(http_deps deps)
    : deps_(std::move(deps)), server_(std::make_unique<httplib::Server>()),
      router_(std::make_unique<http::router>(
          *server_,
          http::authenticator{deps_.config.http.token,
                              deps_.config.http.read_token},
          deps_.config.http.max_body_bytes)),
      reads_(std::make_unique<http_read_pool>(deps_.config.db.url,
                                              read_connections_of(deps_))),
      ctx_{deps_.system, deps_.config, timeout_of(deps_.config), *reads_} {
  impl_ = std::make_unique<impl>(deps_, ctx_);
  auto threads = deps_.config.http.threads > 0 ? deps_.config.http.threads : 8u;
  server_->new_task_queue
      = [threads] { return new httplib::ThreadPool(threads); };
  // A worker serves one connection at a time: idle keep-alive connections
  // must not hold workers for long.
  // Headers and body leave in separate writes: without TCP_NODELAY, Nagle
  // and the peer's delayed ACK add ~40 ms to every keep-alive response.
  server_->set_tcp_nodelay(true);
  server_->set_keep_alive_max_count(100);
  server_->set_keep_alive_timeout(2);
  server_->set_read_timeout(5, 0);
  server_->set_write_timeout(5, 0);
  impl_->mount(*router_);
}

http_server::~http_server() {
  stop();
}

void http_server::add_routes(const mount_function& mount) {
  mount(*router_, ctx_);
}

caf::expected<uint16_t> http_server::start() {
  if (listener_.joinable())
    return port_;
  std::string host;
  int port = 0;
  if (!split_listen(deps_.config.http.listen, host, port))
    return caf::make_error(caf::sec::invalid_argument,
                           "http.listen must be host:port, got '"
                               + deps_.config.http.listen + "'");
  int bound = port == 0 ? server_->bind_to_any_port(host)
                        : (server_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0)
    return caf::make_error(caf::sec::cannot_open_port,
                           "cannot listen on " + deps_.config.http.listen);
  port_ = static_cast<uint16_t>(bound);
  listener_ = std::thread{[this] { server_->listen_after_bind(); }};
  // stop() is a no-op until the accept loop runs; wait for it so a quick
  // stop() after start() cannot leave the thread behind.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!server_->is_running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  log::info("http_server", "listening",
            {{"address", host}, {"port", std::to_string(port_)}});
  if (!router_->auth().enabled())
    log::warning("http_server",
                 "no http.token configured: only /healthz, /readyz and "
                 "/metrics answer");
  return port_;
}

void http_server::stop() {
  if (!listener_.joinable())
    return;
  server_->stop();
  listener_.join();
  log::info("http_server", "stopped");
}

std::vector<http::route> http_server::routes() const {
  return router_->routes();
}

} // namespace sb
