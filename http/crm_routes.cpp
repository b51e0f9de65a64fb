#include "http/crm_routes.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>

#include <caf/send.hpp>

#include "adapters/phone/normalizer.hpp"
#include "core/strings.hpp"
#include "core/time.hpp"
#include "http/cursor.hpp"
#include "http/errors.hpp"
#include "http/json.hpp"
#include "http/params.hpp"
#include "http/server.hpp"

namespace sb {

namespace {

constexpr int64_t default_page = 50;
constexpr int64_t max_page = 500;
/// Notes are free text, but a comms-log body is not a document store.
constexpr size_t max_notes_bytes = 16 * 1024;
using http::parse_positive_id;
using http::query_param;

/// Reads type, customer_id, direction and source into `q`; returns what is
/// wrong with them, or an empty string.
std::string parse_comms_filters(const http::request& req, comms_query& q) {
  q.type = query_param(req, "type");
  if (!q.type.empty() && q.type != "call")
    return "type must be \"call\"";
  if (auto text = query_param(req, "customer_id"); !text.empty()) {
    auto id = parse_positive_id(text);
    if (!id)
      return "customer_id must be a positive integer";
    q.customer_id = *id;
  }
  q.direction = query_param(req, "direction");
  if (!q.direction.empty() && q.direction != "inbound"
      && q.direction != "outbound" && q.direction != "internal")
    return "direction must be inbound, outbound or internal";
  q.source = query_param(req, "source");
  if (!q.source.empty() && q.source != "ami" && q.source != "ozonetel"
      && q.source != "manual")
    return "source must be ami, ozonetel or manual";
  q.disposition = query_param(req, "disposition");
  if (!q.disposition.empty() && q.disposition != "answered"
      && q.disposition != "no_answer" && q.disposition != "busy"
      && q.disposition != "failed")
    return "disposition must be answered, no_answer, busy or failed";
  auto order = query_param(req, "order");
  if (!order.empty() && order != "asc" && order != "desc")
    return "order must be asc or desc";
  // A sync by updated_since reads oldest changes first unless told.
  q.ascending = order.empty() ? req.has_param("updated_since") : order == "asc";
  return {};
}

/// Reads since and until into `q`; returns what is wrong with them, or an
/// empty string.
std::string parse_comms_range(const http::request& req, comms_query& q) {
  caf::optional<unix_micros> since;
  caf::optional<unix_micros> until;
  if (auto text = query_param(req, "since"); !text.empty()) {
    since = sb::parse_iso8601(text);
    if (!since)
      return "since must be an ISO-8601 time such as 2026-11-21T22:09:58Z";
    q.since = sb::iso8601_utc(*since);
  }
  if (auto text = query_param(req, "until"); !text.empty()) {
    until = sb::parse_iso8601(text);
    if (!until)
      return "until must be an ISO-8601 time such as 2026-11-21T22:09:58Z";
    q.until = sb::iso8601_utc(*until);
  }
  if (since && until && *since > *until)
    return "since must not be after until";
  if (req.has_param("updated_since")) {
    auto t = sb::parse_iso8601(query_param(req, "updated_since"));
    if (!t)
      return "updated_since must be an ISO-8601 time such as "
             "2026-11-21T22:09:58Z";
    q.updated_since = sb::iso8601_utc(*t);
  }
  return {};
}

/// What a cursor's position is in: the sort key and order of the query that
/// issued it (a cursor of one order is meaningless in another).
std::string cursor_kind(const comms_query& q) {
  std::string kind = q.updated_since.empty() ? "o" : "u";
  kind += q.ascending ? 'a' : 'd';
  return kind;
}

/// Reads limit and cursor into `limit` and `q`; returns what is wrong with
/// them, or an empty string.
std::string parse_comms_page(const http::request& req, comms_query& q,
                             int64_t& limit) {
  if (auto text = query_param(req, "limit"); !text.empty()) {
    auto n = parse_positive_id(text);
    if (!n || *n > max_page)
      return "limit must be an integer from 1 to " + std::to_string(max_page);
    limit = *n;
  }
  if (auto text = query_param(req, "cursor"); !text.empty()) {
    auto c = http::decode_cursor(text);
    if (!c)
      return "cursor is not one this server issued; pass next_cursor "
             "of the previous page unchanged";
    // Cursors issued before the order was selectable carry no kind: they
    // are newest first by occurred_at.
    auto colon = c->occurred_at.find(':');
    auto kind = colon == 2 ? c->occurred_at.substr(0, 2) : std::string{"od"};
    auto when = colon == 2 ? c->occurred_at.substr(3) : c->occurred_at;
    if (kind != cursor_kind(q))
      return "cursor belongs to a query with another order or "
             "updated_since; keep the parameters of the first page";
    if (!sb::parse_iso8601(when))
      return "cursor is not one this server issued; pass next_cursor "
             "of the previous page unchanged";
    q.cursor_occurred_at = when;
    q.cursor_id = c->id;
  }
  return {};
}

/// `{"entries": [...], "next_cursor": ...}`; the cursor points past the last
/// entry when `more` rows follow.
void write_comms_page(rapidjson::StringBuffer& buf, const comms_query& q,
                      const std::vector<comms_entry>& rows, bool more) {
  http::json_writer w{buf};
  w.StartObject();
  w.Key("entries");
  w.StartArray();
  for (const auto& e : rows)
    http::write_json(w, e);
  w.EndArray();
  w.Key("next_cursor");
  if (more && !rows.empty()) {
    const auto& last = rows.back();
    auto position = cursor_kind(q) + ':'
                    + (q.updated_since.empty() ? last.occurred_at
                                               : last.updated_at);
    auto cursor = http::encode_cursor({position, last.id});
    w.String(cursor.c_str(), static_cast<rapidjson::SizeType>(cursor.size()));
  } else {
    w.Null();
  }
  w.EndObject();
}

struct crm_routes {
  crm_routes(const http_context& ctx,
             shared_handle<comms_log_writer_actor> writer,
             shared_handle<customer_matcher_actor> matcher)
      : ctx(ctx), writer(std::move(writer)), matcher(std::move(matcher)),
        phones(ctx.config.phone.default_region) {}

  const http_context& ctx;
  /// Read at each request: the root supervisor may have restarted them.
  shared_handle<comms_log_writer_actor> writer;
  shared_handle<customer_matcher_actor> matcher;
  phone::normalizer phones;

  std::chrono::milliseconds wait() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(ctx.timeout);
  }

  // POST /api/crm/calls/log
  void log_call(const http::request& req, http::response& res) {
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
    if (!http::read_idempotency_key(req, res, key))
      return;
    auto found = ctx.reads.run(
        [&](store::database& db) { return db.get_customer(*customer_id); },
        wait());
    if (!found) {
      http::send_failure(res, "database", found.error());
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
    auto stored = http_ask<comms_entry>(ctx, writer->get(), write_atom_v, entry,
                                       key);
    if (!stored) {
      http::send_failure(res, "comms log writer", stored.error());
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
  void comms(const http::request& req, http::response& res) {
    if (auto unknown = http::unknown_param(
            req, {"type", "customer_id", "direction", "source",
                  "disposition", "since", "until", "updated_since", "order",
                  "external_number", "limit", "cursor"})) {
      http::send_error(res, 400, "invalid_parameter",
                       "unknown query parameter '" + *unknown
                           + "'; filters are type, customer_id, direction, "
                             "source, disposition, since, until, "
                             "updated_since, order, external_number, limit, "
                             "cursor");
      return;
    }
    comms_query q;
    int64_t limit = default_page;
    auto problem = parse_comms_filters(req, q);
    if (problem.empty() && req.has_param("external_number")) {
      q.external_e164 = phones.to_e164(req.param("external_number"));
      if (q.external_e164.empty())
        problem = "external_number is not a dialable phone number (numbers "
                  "without a country code are read in region "
                  + phones.default_region() + ")";
    }
    if (problem.empty())
      problem = parse_comms_range(req, q);
    if (problem.empty())
      problem = parse_comms_page(req, q, limit);
    if (!problem.empty()) {
      http::send_error(res, 400, "invalid_parameter", problem);
      return;
    }
    // One extra row tells whether another page follows. The store returns at
    // most max_page rows, so a full page of max_page always gets a cursor
    // (the next page may then be empty).
    q.limit = std::min<int64_t>(limit + 1, max_page);
    auto rows = ctx.reads.run(
        [&](store::database& db) { return db.query_comms(q); }, wait());
    if (!rows) {
      http::send_failure(res, "database", rows.error());
      return;
    }
    bool more = http::trim_page(*rows, limit, max_page);
    rapidjson::StringBuffer buf;
    write_comms_page(buf, q, *rows, more);
    http::send_json(res, 200, {buf.GetString(), buf.GetSize()});
  }
};

} // namespace

void mount_crm_routes(http::router& r, const http_context& ctx,
                      shared_handle<comms_log_writer_actor> writer,
                      shared_handle<customer_matcher_actor> matcher) {
  auto self = std::make_shared<crm_routes>(ctx, std::move(writer),
                                           std::move(matcher));
  using http::scope;
  r.post("/api/crm/calls/log", scope::write,
         [self](const auto& req, auto& res) { self->log_call(req, res); });
  r.get("/api/crm/comms", scope::read,
        [self](const auto& req, auto& res) { self->comms(req, res); });
  mount_customer_routes(r, ctx, self->writer, self->matcher);
}

} // namespace sb
