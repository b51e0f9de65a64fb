// The customer endpoints of the CRM API (http/crm_routes.hpp lists them).

#include <chrono>
#include <string>
#include <vector>

#include <caf/send.hpp>

#include "adapters/phone/normalizer.hpp"
#include "core/error.hpp"
#include "core/strings.hpp"
#include "http/crm_routes.hpp"
#include "http/cursor.hpp"
#include "http/errors.hpp"
#include "http/json.hpp"
#include "http/params.hpp"
#include "http/server.hpp"

namespace sb {

namespace {

constexpr int64_t default_page = 50;
constexpr int64_t max_page = 500;
constexpr size_t max_external_id_bytes = 200;
/// Marks a customers-list cursor, so a comms cursor is refused here.
constexpr const char* customers_cursor = "customers";

std::string customer_json(const customer& c) {
  rapidjson::StringBuffer buf;
  http::json_writer w{buf};
  http::write_json(w, c);
  return {buf.GetString(), buf.GetSize()};
}

/// `{"customer": {...}}`: the payload of customer.* events.
std::string customer_payload(const customer& c) {
  return "{\"customer\":" + customer_json(c) + "}";
}

std::string matched_payload(int64_t entry_id, const customer& c) {
  rapidjson::StringBuffer buf;
  http::json_writer w{buf};
  w.StartObject();
  w.Key("entry_id");
  w.Int64(entry_id);
  w.Key("customer");
  w.StartObject();
  w.Key("id");
  w.Int64(c.id);
  w.Key("name");
  w.String(c.name.c_str(), static_cast<rapidjson::SizeType>(c.name.size()));
  w.EndObject();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

/// A store conflict as its answer: a taken number or external id, or a
/// reused Idempotency-Key.
void send_conflict(http::response& res, const caf::error& err) {
  auto message = describe(err);
  http::send_error(res, 409,
                   starts_with(message, "Idempotency-Key")
                       ? "idempotency_key_reused"
                       : "customer_exists",
                   message);
}

struct customer_routes {
  customer_routes(const http_context& ctx,
                  shared_handle<comms_log_writer_actor> writer,
                  shared_handle<customer_matcher_actor> matcher)
      : ctx(ctx), writer(std::move(writer)), matcher(std::move(matcher)),
        phones(ctx.config.phone.default_region) {}

  const http_context& ctx;
  shared_handle<comms_log_writer_actor> writer;
  shared_handle<customer_matcher_actor> matcher;
  phone::normalizer phones;

  std::chrono::milliseconds wait() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(ctx.timeout);
  }

  std::string region_hint() const {
    return "numbers without a country code are read in region "
           + phones.default_region();
  }

  /// Tells the matcher (its index must follow every change at once) and
  /// the event sink.
  void changed(const char* type, const customer_change& change,
               bool deleted) {
    if (auto m = matcher->get()) {
      auto indexed = change.value;
      if (deleted) {
        indexed.phone.clear();
        indexed.phone_e164.clear();
      }
      caf::anon_send(m, customer_atom_v, std::move(indexed));
    }
    if (change.replayed)
      return;
    const auto& c = change.value;
    ctx.events(crm_event{type, "crm", {}, {}, {}, c.id, customer_payload(c)});
    for (auto entry : change.matched_entries)
      ctx.events(crm_event{"call.matched", "crm", {}, {}, {}, c.id,
                           matched_payload(entry, c)});
  }

  /// The answer to a failed change: 409, 404, or the writer's failure.
  void send_change_failure(http::response& res, const caf::error& err) {
    switch (http::classify(err)) {
      case ec::conflict:
        send_conflict(res, err);
        return;
      case ec::not_found:
        http::send_error(res, 404, "customer_not_found", describe(err));
        return;
      default:
        http::send_failure(res, "comms log writer", err);
    }
  }

  /// Reads phone (normalized into `e164`) and external_id from `in`.
  void read_identity(http::field_reader& in, bool phone_required,
                     std::optional<std::string>& phone,
                     std::optional<std::string>& external_id,
                     std::string& e164) {
    phone = in.string("phone", phone_required, 64);
    if (phone) {
      *phone = trim(*phone);
      e164 = phones.to_e164(*phone);
      if (e164.empty())
        in.fail("phone", "is not a dialable phone number (" + region_hint()
                             + ")");
    }
    external_id = in.string("external_id", false, max_external_id_bytes);
    if (external_id)
      *external_id = trim(*external_id);
  }

  // POST /api/crm/customers
  void add(const http::request& req, http::response& res) {
    rapidjson::Document doc;
    if (!http::parse_json_object(req, res, doc))
      return;
    http::field_reader in{doc};
    auto name = in.string("name", true, 512);
    if (name && trim(*name).empty())
      in.fail("name", "must not be empty");
    std::optional<std::string> phone;
    std::optional<std::string> external_id;
    std::string e164;
    read_identity(in, true, phone, external_id, e164);
    if (!in.ok()) {
      in.send(res);
      return;
    }
    std::string key;
    if (!http::read_idempotency_key(req, res, key))
      return;
    customer c;
    c.name = trim(*name);
    c.phone = *phone;
    c.phone_e164 = e164;
    c.external_id = external_id ? *external_id : std::string{};
    auto stored = http_ask<customer_change>(ctx, writer->get(),
                                            customer_atom_v, c, key);
    if (!stored) {
      send_change_failure(res, stored.error());
      return;
    }
    changed("customer.created", *stored, false);
    res.set_header("Location",
                   "/api/crm/customers/" + std::to_string(stored->value.id));
    http::send_json(res, 201, customer_json(stored->value));
  }

  // PATCH /api/crm/customers/{id}
  void update(const http::request& req, http::response& res) {
    auto id = http::parse_positive_id(req.path_param(1));
    if (!id) {
      http::send_error(res, 400, "invalid_parameter",
                       "customer id must be a positive integer");
      return;
    }
    rapidjson::Document doc;
    if (!http::parse_json_object(req, res, doc))
      return;
    for (auto m = doc.MemberBegin(); m != doc.MemberEnd(); ++m) {
      std::string field{m->name.GetString(), m->name.GetStringLength()};
      if (field != "name" && field != "phone" && field != "external_id") {
        http::send_error(res, 422, "invalid_field",
                         field.substr(0, 64)
                             + " cannot be changed; give name, phone or "
                               "external_id");
        return;
      }
    }
    http::field_reader in{doc};
    customer_patch patch;
    patch.id = *id;
    if (auto name = in.string("name", false, 512)) {
      if (trim(*name).empty())
        in.fail("name", "must not be empty");
      patch.name = std::string{trim(*name)};
    }
    std::optional<std::string> phone;
    std::optional<std::string> external_id;
    read_identity(in, false, phone, external_id, patch.phone_e164);
    if (in.ok() && !patch.name && !phone && !external_id)
      in.fail("name", "phone or external_id: give at least one to change");
    if (!in.ok()) {
      in.send(res);
      return;
    }
    if (phone)
      patch.phone = *phone;
    if (external_id)
      patch.external_id = *external_id;
    auto stored = http_ask<customer_change>(ctx, writer->get(),
                                            customer_atom_v, patch);
    if (!stored) {
      send_change_failure(res, stored.error());
      return;
    }
    changed("customer.updated", *stored, false);
    http::send_json(res, 200, customer_json(stored->value));
  }

  // DELETE /api/crm/customers/{id}
  void remove(const http::request& req, http::response& res) {
    auto id = http::parse_positive_id(req.path_param(1));
    if (!id) {
      http::send_error(res, 400, "invalid_parameter",
                       "customer id must be a positive integer");
      return;
    }
    auto gone = http_ask<customer_change>(ctx, writer->get(), delete_atom_v,
                                          *id);
    if (!gone) {
      send_change_failure(res, gone.error());
      return;
    }
    changed("customer.deleted", *gone, true);
    res.status = 204;
    res.body.clear();
  }

  /// Reads the list's filters and page into `q`; returns what is wrong.
  std::string parse_list(const http::request& req, customer_query& q,
                         int64_t& limit) {
    if (auto unknown
        = http::unknown_param(req, {"phone", "external_id", "limit", "cursor"}))
      return "unknown query parameter '" + *unknown
             + "'; filters are phone, external_id, limit, cursor";
    if (req.has_param("phone")) {
      q.phone_e164 = phones.to_e164(req.param("phone"));
      if (q.phone_e164.empty())
        return "phone is not a dialable phone number (" + region_hint() + ")";
    }
    if (req.has_param("external_id")) {
      q.external_id = trim(req.param("external_id"));
      if (q.external_id.empty() || q.external_id.size() > max_external_id_bytes)
        return "external_id must be 1 to 200 characters";
    }
    if (auto text = http::query_param(req, "limit"); !text.empty()) {
      auto n = http::parse_positive_id(text);
      if (!n || *n > max_page)
        return "limit must be an integer from 1 to "
               + std::to_string(max_page);
      limit = *n;
    }
    if (auto text = http::query_param(req, "cursor"); !text.empty()) {
      auto c = http::decode_cursor(text);
      if (!c || c->occurred_at != customers_cursor)
        return "cursor is not one this list issued; pass next_cursor of the "
               "previous page unchanged";
      q.after_id = c->id;
    }
    return {};
  }

  // GET /api/crm/customers
  void list(const http::request& req, http::response& res) {
    customer_query q;
    int64_t limit = default_page;
    if (auto problem = parse_list(req, q, limit); !problem.empty()) {
      http::send_error(res, 400, "invalid_parameter", problem);
      return;
    }
    q.limit = std::min<int64_t>(limit + 1, max_page);
    auto found = ctx.reads.run(
        [&](store::database& db) { return db.list_customers(q); }, wait());
    if (!found) {
      http::send_failure(res, "database", found.error());
      return;
    }
    bool more = http::trim_page(*found, limit, max_page);
    rapidjson::StringBuffer buf;
    http::json_writer w{buf};
    w.StartObject();
    if (!q.phone_e164.empty()) {
      w.Key("phone_e164");
      w.String(q.phone_e164.c_str(),
               static_cast<rapidjson::SizeType>(q.phone_e164.size()));
    }
    w.Key("customers");
    w.StartArray();
    for (auto& c : *found)
      http::write_json(w, c);
    w.EndArray();
    w.Key("next_cursor");
    if (more && !found->empty()) {
      auto cursor = http::encode_cursor({customers_cursor, found->back().id});
      w.String(cursor.c_str(), static_cast<rapidjson::SizeType>(cursor.size()));
    } else {
      w.Null();
    }
    w.EndObject();
    http::send_json(res, 200, {buf.GetString(), buf.GetSize()});
  }

  // GET /api/crm/customers/{id}
  void get(const http::request& req, http::response& res) {
    auto id = http::parse_positive_id(req.path_param(1));
    if (!id) {
      http::send_error(res, 400, "invalid_parameter",
                       "customer id must be a positive integer");
      return;
    }
    auto found = ctx.reads.run(
        [&](store::database& db) { return db.get_customer(*id); }, wait());
    if (!found) {
      http::send_failure(res, "database", found.error());
      return;
    }
    if (!*found) {
      http::send_error(res, 404, "customer_not_found",
                       "no customer with id " + std::to_string(*id));
      return;
    }
    http::send_json(res, 200, customer_json(**found));
  }
};

} // namespace

void mount_customer_routes(http::router& r, const http_context& ctx,
                           shared_handle<comms_log_writer_actor> writer,
                           shared_handle<customer_matcher_actor> matcher) {
  auto self = std::make_shared<customer_routes>(ctx, std::move(writer),
                                                std::move(matcher));
  using http::scope;
  r.post("/api/crm/customers", scope::write,
         [self](const auto& req, auto& res) { self->add(req, res); });
  r.get("/api/crm/customers", scope::read,
        [self](const auto& req, auto& res) { self->list(req, res); });
  r.get("/api/crm/customers/{id}", scope::read,
        [self](const auto& req, auto& res) { self->get(req, res); });
  http::route patch;
  patch.method = "PATCH";
  patch.path = "/api/crm/customers/{id}";
  patch.needed = scope::write;
  patch.accepts = {"application/json"};
  r.add(std::move(patch),
        [self](const auto& req, auto& res) { self->update(req, res); });
  http::route del;
  del.method = "DELETE";
  del.path = "/api/crm/customers/{id}";
  del.needed = scope::write;
  r.add(std::move(del),
        [self](const auto& req, auto& res) { self->remove(req, res); });
}

} // namespace sb
