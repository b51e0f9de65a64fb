#include "http/originate_routes.hpp"

#include <array>
#include <chrono>
#include <memory>
#include <random>
#include <utility>

#include "adapters/store/database.hpp"
#include "http/errors.hpp"
#include "http/json.hpp"
#include "http/server.hpp"

namespace sb {

namespace {

using http::json_writer;

std::string new_request_id() {
  static thread_local std::mt19937_64 rng{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    return std::mt19937_64{seq};
  }()};
  static constexpr char digits[] = "0123456789abcdef";
  std::string id{originate_id_prefix};
  for (int word = 0; word < 2; ++word) {
    auto x = rng();
    for (int i = 0; i < 16; ++i, x >>= 4)
      id.push_back(digits[x & 0x0f]);
  }
  return id;
}

/// Digits with an optional leading `+`, as a dialplan takes them; AMI
/// values must not carry anything that breaks a frame or a dial string.
bool dialable(const std::string& number) {
  if (number.empty())
    return false;
  for (size_t i = 0; i < number.size(); ++i) {
    char c = number[i];
    bool ok = (c >= '0' && c <= '9') || (i == 0 && c == '+') || c == '*'
              || c == '#';
    if (!ok)
      return false;
  }
  return number != "+";
}

/// An extension as a channel template takes it: letters, digits, `_-.`.
bool extension_like(const std::string& ext) {
  if (ext.empty())
    return false;
  for (char c : ext) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z') || c == '_' || c == '-' || c == '.';
    if (!ok)
      return false;
  }
  return true;
}

struct originate_routes {
  const http_context& ctx;
  shared_handle<customer_matcher_actor> matcher;
  originate_function originate;

  std::chrono::milliseconds wait() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(ctx.timeout);
  }

  /// Reads and checks the body; false when it answered (400 bad JSON, 422
  /// a field, as every route does).
  bool read_request(const http::request& req, http::response& res,
                    originate_request& out) {
    rapidjson::Document body;
    if (!http::parse_json_object(req, res, body))
      return false;
    http::field_reader fields{body};
    auto extension = fields.string("extension", true, 64);
    auto phone = fields.string("phone_number", true, 64);
    auto pbx = fields.string("pbx", false, 64);
    auto customer_id = fields.integer("customer_id", false, 1);
    if (extension && fields.ok() && !extension_like(*extension))
      fields.fail("extension",
                  "must be letters, digits, '_', '-' or '.' (e.g. 1001)");
    if (phone && fields.ok() && !dialable(*phone))
      fields.fail("phone_number",
                  "must be digits, optionally with a leading '+' (as "
                  "dialled, e.g. 07700900555 or +447700900555)");
    if (!fields.ok()) {
      fields.send(res);
      return false;
    }
    out.extension = *extension;
    out.phone_number = *phone;
    if (pbx)
      out.pbx = *pbx;
    if (customer_id)
      out.customer_id = *customer_id;
    return true;
  }

  /// Fills the customer's name; false when it answered (unknown customer,
  /// database failure).
  bool find_customer(http::response& res, originate_request& out) {
    if (!out.customer_id)
      return true;
    auto found = ctx.reads.run(
        [&](store::database& db) { return db.get_customer(*out.customer_id); },
        wait());
    if (!found) {
      http::send_failure(res, "database", found.error());
      return false;
    }
    if (!*found) {
      http::send_error(res, 422, "invalid_field",
                       "customer_id: no customer with id "
                           + std::to_string(*out.customer_id));
      return false;
    }
    out.customer_name = (*found)->name;
    return true;
  }

  void send_outcome(http::response& res, const originate_request& req,
                    const originate_reply& reply) {
    switch (reply.outcome) {
      case originate_outcome::queued: {
        rapidjson::StringBuffer buf;
        json_writer w{buf};
        w.StartObject();
        auto text = [&w](const char* key, const std::string& value) {
          w.Key(key);
          w.String(value.data(),
                   static_cast<rapidjson::SizeType>(value.size()));
        };
        text("request_id", req.request_id);
        text("pbx", reply.pbx);
        text("extension", req.extension);
        text("phone_number", req.phone_number);
        w.Key("customer_id");
        if (req.customer_id)
          w.Int64(*req.customer_id);
        else
          w.Null();
        w.EndObject();
        http::send_json(res, 202, {buf.GetString(), buf.GetSize()});
        return;
      }
      case originate_outcome::refused:
        http::send_error(
            res, 502, "pbx_refused",
            "PBX " + reply.pbx + " refused the Originate: "
                + (reply.message.empty() ? "no reason given" : reply.message)
                + (reply.message == "Permission denied"
                       ? " (the AMI user needs the 'originate' write class: "
                         "manager.conf write = originate,...)"
                       : ""));
        return;
      case originate_outcome::unknown_pbx:
        http::send_error(res, 404, "pbx_not_found", reply.message);
        return;
      case originate_outcome::timeout:
        http::send_error(res, 504, "pbx_timeout",
                         "PBX " + reply.pbx + ": " + reply.message);
        return;
      case originate_outcome::lost:
        http::send_error(res, 502, "pbx_unavailable",
                         "PBX " + reply.pbx + ": " + reply.message);
        return;
      default: // not_connected, too_many
        http::send_error(res, 503, "pbx_unavailable",
                         "PBX " + reply.pbx + ": " + reply.message);
        return;
    }
  }

  // POST /api/calls/originate
  void post(const http::request& req, http::response& res) {
    originate_request out;
    if (!read_request(req, res, out) || !find_customer(res, out))
      return;
    if (!originate) {
      http::send_error(res, 503, "unavailable", "no PBX is configured");
      return;
    }
    out.request_id = new_request_id();
    // Before the Originate leaves: its events may reach the matcher before
    // this request is answered.
    auto known = http_ask<bool>(ctx, matcher->get(), originate_atom_v, out);
    if (!known) {
      http::send_failure(res, "the customer matcher", known.error());
      return;
    }
    auto reply = originate(out, ctx.timeout);
    if (!reply) {
      http::send_failure(res, "the AMI supervisor", reply.error());
      return;
    }
    send_outcome(res, out, *reply);
  }
};

} // namespace

void mount_originate_routes(http::router& r, const http_context& ctx,
                            shared_handle<customer_matcher_actor> matcher,
                            originate_function originate) {
  auto self = std::make_shared<originate_routes>(
      originate_routes{ctx, std::move(matcher), std::move(originate)});
  r.post("/api/calls/originate", http::scope::write,
         [self](const auto& req, auto& res) { self->post(req, res); });
}

} // namespace sb
