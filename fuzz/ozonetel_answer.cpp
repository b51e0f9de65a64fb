// CloudAgent's answers and tokens: any body under any status reads into a
// result that holds none of the given secrets; any token's claims read
// without a crash; redaction stays within its size limit.

#include <string>
#include <vector>

#include "adapters/ozonetel/answer.hpp"
#include "adapters/ozonetel/json_guard.hpp"
#include "fuzz/fuzz.hpp"

namespace {

constexpr sb::ozonetel::api all_apis[] = {
  sb::ozonetel::api::generate_token,  sb::ozonetel::api::agent_login,
  sb::ozonetel::api::agent_logout,    sb::ozonetel::api::manual_dial,
  sb::ozonetel::api::set_disposition, sb::ozonetel::api::change_agent_state,
  sb::ozonetel::api::subscribe,
};

constexpr int statuses[] = {0, 200, 201, 400, 401, 403, 404, 429, 500, 503};

} // namespace

SB_FUZZ_TARGET(input) {
  if (input.size() < 2)
    return;
  auto which = all_apis[static_cast<unsigned char>(input[0])
                        % std::size(all_apis)];
  auto status = statuses[static_cast<unsigned char>(input[1])
                         % std::size(statuses)];
  auto body = input.substr(2);
  const std::vector<std::string> secrets{"s3cret-api-key"};
  auto result = sb::ozonetel::interpret(which, status, body, secrets);
  sb::fuzz::require(result.raw.find(secrets[0]) == std::string::npos,
                    "a secret in the kept answer");
  auto redacted = sb::ozonetel::redact(body, secrets, 256);
  sb::fuzz::require(redacted.size() <= 256, "redaction past its limit");
  sb::fuzz::require(redacted.find(secrets[0]) == std::string::npos,
                    "a secret survived redaction");
  (void) sb::ozonetel::jwt_claims(body);
  rapidjson::Document doc;
  auto refused = sb::ozonetel::parse_untrusted_json(doc, body);
  if (refused.empty())
    sb::fuzz::require(sb::ozonetel::json_depth(body)
                        <= sb::ozonetel::max_json_depth,
                      "accepted JSON nested past the limit");
}
