#pragma once

// `switchboard backfill --pbx NAME --from T1 --to T2`: reconciles a period
// of one PBX's CDR database (pbx.NAME.cdr_url) with the comms log, without
// a running server. The calls of the CDR rows starting in [T1, T2) (ISO-8601
// with Z or an offset; the PBX's calldate is read in pbx.NAME.timezone) are
// built by the catch-up's rules; those not logged yet are written with
// recovered = "cdr" and their customer; those logged are compared, and the
// ones that differ are listed, never overwritten. Prints
//   in the CDR N, already logged N, added N, logged but different N
// then one line per difference.

#include <ostream>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "config/config.hpp"

namespace sb {

struct backfill_difference {
  std::string linkedid;
  /// "field: logged X, CDR Y" per differing field.
  std::vector<std::string> fields;
};

struct backfill_report {
  size_t in_cdr = 0;
  size_t already_logged = 0;
  size_t added = 0;
  std::vector<backfill_difference> different;
};

struct backfill_request {
  std::string pbx;
  std::string from;
  std::string to;
};

caf::expected<backfill_report> backfill(const app_config& cfg,
                                        const backfill_request& request);

/// Takes `--pbx NAME --from T1 --to T2` (or `--pbx=NAME` ...) out of `args`
/// (the command line after `backfill`); what is left are config settings.
caf::expected<backfill_request>
take_backfill_arguments(std::vector<std::string>& args);

/// The CLI entry point: exit code 0 when nothing differs, 3 when some
/// logged calls differ from the CDR, 1 on an error (to `err`), 2 on bad
/// arguments.
int run_backfill(const app_config& cfg, const backfill_request& request,
                 std::ostream& out, std::ostream& err);

} // namespace sb
