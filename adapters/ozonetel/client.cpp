#include "adapters/ozonetel/client.hpp"

#include <algorithm>
#include <chrono>

#include <httplib.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/percent.hpp"

namespace sb::ozonetel {

namespace {

std::chrono::microseconds to_micros(double seconds) {
  return std::chrono::microseconds{
      static_cast<int64_t>(std::max(0.001, seconds) * 1e6)};
}

// Only the transport error: httplib's messages never contain request data.
result transport_failure(api which, httplib::Error error) {
  result r = interpret(which, 0, {});
  r.message = "no answer from CloudAgent: " + httplib::to_string(error);
  // The request never left this host: retrying cannot duplicate it.
  r.connect_failed = error == httplib::Error::Connection
                     || error == httplib::Error::ConnectionTimeout
                     || error == httplib::Error::SSLConnection
                     || error == httplib::Error::SSLServerVerification
                     || error == httplib::Error::SSLLoadingCerts
                     || error == httplib::Error::BindIPAddress;
  return r;
}

template <class Configure>
result perform(api which, const std::string& scheme_host_port,
               const settings& cfg, const std::vector<std::string>& secrets,
               Configure&& send) {
  httplib::Client http{scheme_host_port};
  if (!http.is_valid()) {
    result r = interpret(which, 0, {});
    r.message = "invalid ozonetel.api_base";
    r.connect_failed = true;
    return r;
  }
  auto timeout = to_micros(cfg.timeout_seconds);
  http.set_connection_timeout(
      std::min(timeout, to_micros(cfg.connect_timeout_seconds)));
  http.set_read_timeout(timeout);
  http.set_write_timeout(timeout);
  http.set_keep_alive(false);
  httplib::Result res = send(http);
  if (!res)
    return transport_failure(which, res.error());
  return interpret(which, res->status, res->body, secrets);
}

} // namespace

std::string
json_object(const std::vector<std::pair<std::string, std::string>>& fields) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer{buffer};
  writer.StartObject();
  for (auto& [key, value] : fields) {
    writer.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    writer.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  }
  writer.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

client::client(settings cfg) : cfg_(std::move(cfg)) {
  // httplib wants scheme://host[:port]; a path in api_base becomes a prefix.
  auto base = cfg_.api_base;
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  auto scheme_end = base.find("://");
  auto path_start
      = base.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
  if (path_start == std::string::npos) {
    target_.scheme_host_port = base;
  } else {
    target_.scheme_host_port = base.substr(0, path_start);
    target_.path_prefix = base.substr(path_start);
  }
}

std::vector<std::string> client::secrets(const std::string& token) const {
  std::vector<std::string> out{cfg_.api_key, cfg_.agent_password};
  if (!token.empty())
    out.push_back(token);
  return out;
}

result client::post_json(api which, const std::string& path,
                         const std::string& token, const std::string& body,
                         bool api_key_header) const {
  auto full_path = target_.path_prefix + path;
  return perform(which, target_.scheme_host_port, cfg_, secrets(token),
                 [&](httplib::Client& http) {
                   httplib::Headers headers{{"Accept", "application/json"}};
                   if (api_key_header)
                     headers.emplace("apiKey", cfg_.api_key);
                   if (!token.empty())
                     headers.emplace("Authorization", "Bearer " + token);
                   return http.Post(full_path.c_str(), headers, body,
                                    "application/json");
                 });
}

result client::generate_token() const {
  return post_json(api::generate_token, "/ca_apis/CAToken/generateToken", {},
                   json_object({{"userName", cfg_.account}}), true);
}

namespace {

std::string auth_form(const settings& cfg, const std::string& action,
                      const std::string& phone_number) {
  std::string form = "userName=" + percent_encode(cfg.account)
                     + "&apiKey=" + percent_encode(cfg.api_key)
                     + "&action=" + percent_encode(action);
  if (!phone_number.empty())
    form += "&phoneNumber=" + percent_encode(phone_number);
  return form;
}

} // namespace

result client::agent_login(const std::string& phone_number) const {
  return agent_login(cfg_.agent_id, cfg_.agent_password, phone_number);
}

result client::agent_logout() const {
  return agent_logout(cfg_.agent_id, cfg_.agent_password);
}

result client::agent_login(const std::string& agent_id,
                           const std::string& password,
                           const std::string& phone_number) const {
  auto path
      = target_.path_prefix + "/CAServices/AgentAuthenticationV2/index.php";
  auto hidden = secrets();
  hidden.push_back(password);
  return perform(api::agent_login, target_.scheme_host_port, cfg_, hidden,
                 [&](httplib::Client& http) {
                   http.set_basic_auth(agent_id.c_str(), password.c_str());
                   return http.Post(path.c_str(),
                                    auth_form(cfg_, "login", phone_number),
                                    "application/x-www-form-urlencoded");
                 });
}

result client::agent_logout(const std::string& agent_id,
                            const std::string& password) const {
  auto path
      = target_.path_prefix + "/CAServices/AgentAuthenticationV2/index.php";
  auto hidden = secrets();
  hidden.push_back(password);
  return perform(api::agent_logout, target_.scheme_host_port, cfg_, hidden,
                 [&](httplib::Client& http) {
                   http.set_basic_auth(agent_id.c_str(), password.c_str());
                   return http.Post(path.c_str(),
                                    auth_form(cfg_, "logout", {}),
                                    "application/x-www-form-urlencoded");
                 });
}

result client::subscribe(const std::string& subscribe_base,
                         const std::string& call_events_url,
                         const std::string& agent_events_url) const {
  auto base = subscribe_base;
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  auto scheme_end = base.find("://");
  auto path_start
      = base.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
  auto host = path_start == std::string::npos ? base : base.substr(0, path_start);
  auto prefix = path_start == std::string::npos ? std::string{}
                                                : base.substr(path_start);
  auto path = prefix + "/events/subscribe";
  auto body = json_object(
      {{"callEventsURL", call_events_url}, {"agentEventsURL", agent_events_url}});
  return perform(api::subscribe, host, cfg_, secrets(),
                 [&](httplib::Client& http) {
                   httplib::Headers headers{{"Accept", "application/json"},
                                            {"api_key", cfg_.api_key},
                                            {"username", cfg_.account}};
                   return http.Post(path.c_str(), headers, body,
                                    "application/json");
                 });
}

result client::manual_dial(const std::string& token,
                           const std::string& customer_number) const {
  return manual_dial_as(token, cfg_.agent_id, customer_number);
}

result client::manual_dial_as(const std::string& token,
                              const std::string& agent_id,
                              const std::string& customer_number) const {
  return post_json(api::manual_dial, "/ca_apis/AgentManualDial", token,
                   json_object({{"userName", cfg_.account},
                                {"agentID", agent_id},
                                {"campaignName", cfg_.campaign},
                                {"customerNumber", customer_number},
                                {"UCID", "true"}}),
                   false);
}

result client::set_disposition(const std::string& token,
                               const disposition_request& request) const {
  std::vector<std::pair<std::string, std::string>> fields{
      {"userName", cfg_.account},
      {"agentID", request.agent_id.empty() ? cfg_.agent_id : request.agent_id},
      {"did", cfg_.did},
      {"ucid", request.ucid},
      {"action", "Set"},          {"disposition", request.disposition},
      {"autoRelease", "true"}};
  if (!request.comments.empty())
    fields.emplace_back("comments", request.comments);
  if (!request.callback_time.empty())
    fields.emplace_back("callBackTime", request.callback_time);
  return post_json(api::set_disposition, "/ca_apis/DispositionAPIV2", token,
                   json_object(fields), false);
}

result client::change_agent_state(const std::string& token,
                                  const std::string& state,
                                  const std::string& pause_reason) const {
  return change_agent_state_as(token, cfg_.agent_id, state, pause_reason);
}

result client::change_agent_state_as(const std::string& token,
                                     const std::string& agent_id,
                                     const std::string& state,
                                     const std::string& pause_reason) const {
  std::vector<std::pair<std::string, std::string>> fields{
      {"userName", cfg_.account}, {"agentId", agent_id}, {"state", state}};
  if (!pause_reason.empty())
    fields.emplace_back("pauseReason", pause_reason);
  return post_json(api::change_agent_state, "/ca_apis/changeAgentState", token,
                   json_object(fields), false);
}

} // namespace sb::ozonetel
