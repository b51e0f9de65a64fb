#include "app/backfill.hpp"

#include <map>
#include <utility>

#include "adapters/cdr/cdr_database.hpp"
#include "adapters/phone/normalizer.hpp"
#include "adapters/store/database.hpp"
#include "core/error.hpp"
#include "core/strings.hpp"
#include "core/time.hpp"
#include "domain/cdr_calls.hpp"

namespace sb {

namespace {

caf::error bad_argument(const std::string& what) {
  return caf::make_error(ec::invalid, "backfill: " + what
                                          + " (usage: switchboard backfill "
                                            "--pbx NAME --from T1 --to T2)");
}

int64_t distance(int64_t a, int64_t b) {
  return a > b ? a - b : b - a;
}

/// The fields in which the logged entry and the CDR's call disagree
/// (durations within the CDR's 1 s resolution agree).
std::vector<std::string> differences(const comms_entry& e,
                                     const completed_call& c) {
  std::vector<std::string> out;
  auto text = [&](const char* name, const std::string& logged,
                  const std::string& cdr) {
    if (logged != cdr)
      out.push_back(std::string{name} + ": logged '" + logged + "', CDR '"
                    + cdr + "'");
  };
  auto number = [&](const char* name, int64_t logged, int64_t cdr) {
    if (distance(logged, cdr) > 1)
      out.push_back(std::string{name} + ": logged " + std::to_string(logged)
                    + ", CDR " + std::to_string(cdr));
  };
  text("direction", e.direction, to_string(c.direction));
  text("external_number", e.external_number, c.external_number);
  text("extension", e.extension, c.extension);
  text("disposition", e.disposition, to_string(c.disposition));
  number("duration_seconds", e.duration_seconds, c.duration_seconds);
  number("billsec", e.billsec, c.billsec);
  return out;
}

const pbx_config* find_pbx(const app_config& cfg, const std::string& name) {
  for (const auto& pbx : cfg.pbxes)
    if (pbx.name == name)
      return &pbx;
  return nullptr;
}

} // namespace

caf::expected<backfill_request>
take_backfill_arguments(std::vector<std::string>& args) {
  backfill_request r;
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    std::string* target = nullptr;
    std::string name;
    for (auto [flag, field] : {std::pair<const char*, std::string*>{"--pbx", &r.pbx},
                               {"--from", &r.from},
                               {"--to", &r.to}})
      if (a == flag || starts_with(a, std::string{flag} + "=")) {
        target = field;
        name = flag;
      }
    if (target == nullptr) {
      rest.push_back(a);
      continue;
    }
    if (a.size() > name.size()) {
      *target = a.substr(name.size() + 1);
    } else {
      if (i + 1 >= args.size())
        return bad_argument(name + " needs a value");
      *target = args[++i];
    }
  }
  if (r.pbx.empty() || r.from.empty() || r.to.empty())
    return bad_argument("--pbx, --from and --to are required");
  args = std::move(rest);
  return r;
}

caf::expected<backfill_report> backfill(const app_config& cfg,
                                        const backfill_request& request) {
  const auto* pbx = find_pbx(cfg, request.pbx);
  if (pbx == nullptr)
    return bad_argument("no PBX named '" + request.pbx + "' is configured");
  if (pbx->cdr_url.empty())
    return bad_argument("pbx." + pbx->name + ".cdr_url is not set");
  auto from = parse_iso8601(request.from);
  auto to = parse_iso8601(request.to);
  if (!from || !to)
    return bad_argument("--from and --to are ISO-8601 times (e.g. "
                        "2026-12-01T08:00:00Z)");
  if (*to <= *from)
    return bad_argument("--to must be after --from");
  cdr::open_options options;
  options.password = pbx->cdr_password;
  options.timezone = pbx->timezone;
  auto source = cdr::database::open(pbx->cdr_url, options);
  if (!source)
    return std::move(source.error());
  auto store = store::database::open(cfg.db.url);
  if (!store)
    return std::move(store.error());
  auto rows = (*source)->calls_between(*from, *to);
  if (!rows)
    return std::move(rows.error());
  phone::normalizer numbers{cfg.phone.default_region};
  backfill_report report;
  std::vector<matched_call> missing;
  for (auto& call : calls_from_cdr(std::move(*rows), *pbx)) {
    if (call.started_at < *from || call.started_at >= *to)
      continue;
    ++report.in_cdr;
    auto logged = (*store)->find_comms("ami", pbx->name, call.ext_message_id);
    if (!logged)
      return std::move(logged.error());
    if (*logged) {
      auto diff = differences(**logged, call);
      if (diff.empty())
        ++report.already_logged;
      else
        report.different.push_back({call.ext_message_id, std::move(diff)});
      continue;
    }
    matched_call m;
    m.external_e164 = numbers.to_e164(call.external_number);
    if (!m.external_e164.empty()) {
      auto found = (*store)->find_customers_by_e164(m.external_e164);
      if (!found)
        return std::move(found.error());
      if (!found->empty())
        m.customer_id = found->front().id;
    }
    m.call = std::move(call);
    missing.push_back(std::move(m));
  }
  auto written = (*store)->write_calls(missing);
  if (!written)
    return std::move(written.error());
  report.added = *written;
  return report;
}

int run_backfill(const app_config& cfg, const backfill_request& request,
                 std::ostream& out, std::ostream& err) {
  auto report = backfill(cfg, request);
  if (!report) {
    err << "switchboard: " << error_text(report.error()) << "\n";
    return code_of(report.error()) == ec::invalid ? 2 : 1;
  }
  out << "in the CDR " << report->in_cdr << ", already logged "
      << report->already_logged << ", added " << report->added
      << ", logged but different " << report->different.size() << "\n";
  for (const auto& d : report->different)
    for (const auto& f : d.fields)
      out << "different " << d.linkedid << " " << f << "\n";
  return report->different.empty() ? 0 : 3;
}

} // namespace sb
