#pragma once

// Click-to-call: the AMI Originate action for a request, from the PBX's
// templates (pbx.<name>.originate_*).

#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "messages/originate.hpp"

namespace sb {

/// The Originate's fields (the ActionID is the request id, added by the
/// client): Channel from the template, Context, Exten = the number as
/// dialled, Priority 1, Timeout, CallerID, Async and the channel variable
/// SWITCHBOARD_REQUEST_ID.
std::vector<std::pair<std::string, std::string>>
originate_fields(const pbx_config& pbx, const originate_request& req);

/// `text` with every `{key}` replaced by its value.
std::string fill_template(
    std::string text,
    const std::vector<std::pair<std::string, std::string>>& values);

} // namespace sb
