#include "adapters/ozonetel/answer.hpp"
#include "adapters/ozonetel/json_guard.hpp"
#include "core/base64.hpp"
#include "core/strings.hpp"

#include <algorithm>
#include <cctype>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace sb::ozonetel {

const char* to_string(api which) noexcept {
  switch (which) {
    case api::generate_token:
      return "generateToken";
    case api::agent_login:
      return "AgentLogin";
    case api::agent_logout:
      return "AgentLogout";
    case api::manual_dial:
      return "AgentManualDial";
    case api::set_disposition:
      return "DispositionAPIV2";
    case api::change_agent_state:
      return "changeAgentState";
    case api::subscribe:
      return "subscribe";
  }
  return "?";
}

namespace {

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

} // namespace

bool is_secret_key(std::string_view key) {
  auto k = lower(key);
  k.erase(std::remove_if(k.begin(), k.end(),
                         [](char c) { return c == '_' || c == '-'; }),
          k.end());
  return k == "apikey" || k == "token" || k == "accesstoken" || k == "password"
         || k == "agentpassword" || k == "authorization" || k == "secret";
}

namespace {

void mask_json(rapidjson::Value& root,
               rapidjson::Document::AllocatorType& alloc) {
  for_each_value(root, [&alloc](rapidjson::Value& value) {
    if (!value.IsObject())
      return;
    for (auto& member : value.GetObject()) {
      std::string_view key{member.name.GetString(),
                           member.name.GetStringLength()};
      if (is_secret_key(key) && !member.value.IsNull())
        member.value.SetString("***", alloc);
    }
  });
}

bool base64url_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'
         || c == '=';
}

// JWTs are three base64url segments, and their header always starts with
// `{"` which encodes to "eyJ": catches tokens we were never told about.
void mask_jwts(std::string& text) {
  size_t pos = 0;
  while ((pos = text.find("eyJ", pos)) != std::string::npos) {
    size_t end = pos;
    int dots = 0;
    while (end < text.size()
           && (base64url_char(text[end]) || text[end] == '.')) {
      if (text[end] == '.')
        ++dots;
      ++end;
    }
    if (dots >= 2 && end - pos >= 20) {
      text.replace(pos, end - pos, "***");
      pos += 3;
    } else {
      pos = end;
    }
  }
}

// Form bodies (AgentAuthenticationV2 carries apiKey in its form) and query
// strings: `apiKey=...` up to the next separator.
void mask_form_pairs(std::string& text) {
  auto low = lower(text);
  for (std::string_view key : {"apikey=", "api_key=", "password=", "token="}) {
    size_t pos = 0;
    while ((pos = low.find(key, pos)) != std::string::npos) {
      auto start = pos + key.size();
      auto end = start;
      while (end < text.size() && text[end] != '&' && text[end] != ' '
             && text[end] != '\n' && text[end] != '"')
        ++end;
      if (end > start) {
        text.replace(start, end - start, "***");
        low.replace(start, end - start, "***");
      }
      pos = start + 3;
    }
  }
}

void mask_literals(std::string& text, const std::vector<std::string>& secrets) {
  for (auto& secret : secrets) {
    // Very short "secrets" would mask ordinary words.
    if (secret.size() < 4)
      continue;
    size_t pos = 0;
    while ((pos = text.find(secret, pos)) != std::string::npos) {
      text.replace(pos, secret.size(), "***");
      pos += 3;
    }
  }
}

std::string stringify(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer{buffer};
  value.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

std::string scalar_text(const rapidjson::Value& value) {
  if (value.IsString())
    return {value.GetString(), value.GetStringLength()};
  if (value.IsBool())
    return value.GetBool() ? "true" : "false";
  if (value.IsInt64())
    return std::to_string(value.GetInt64());
  if (value.IsUint64())
    return std::to_string(value.GetUint64());
  if (value.IsNumber())
    return std::to_string(value.GetDouble());
  if (value.IsNull())
    return {};
  return stringify(value);
}

const rapidjson::Value* member(const rapidjson::Value& object,
                               std::initializer_list<const char*> names) {
  if (!object.IsObject())
    return nullptr;
  for (auto name : names) {
    auto i = object.FindMember(name);
    if (i != object.MemberEnd() && !i->value.IsNull())
      return &i->value;
  }
  return nullptr;
}

std::string member_text(const rapidjson::Value& object,
                        std::initializer_list<const char*> names) {
  for (auto name : names) {
    if (auto value = member(object, {name})) {
      auto text = scalar_text(*value);
      if (!text.empty())
        return text;
    }
  }
  return {};
}

// changeAgentState puts the agent's state in a JSON *string* under `message`;
// an object or array there, or the root, are read too (parsed defensively).
std::string find_agent_state(const rapidjson::Value& root) {
  static constexpr std::initializer_list<const char*> keys
      = {"agentStatus", "AgentStatus", "agent_status", "agentState",
         "AgentState",  "State",       "state"};
  auto from_object = [](const rapidjson::Value& object) {
    return member_text(object, keys);
  };
  if (auto nested = member(root, {"message", "Message", "details", "data"})) {
    if (nested->IsObject()) {
      if (auto s = from_object(*nested); !s.empty())
        return s;
    } else if (nested->IsArray() && !nested->Empty()
               && (*nested)[0].IsObject()) {
      if (auto s = from_object((*nested)[0]); !s.empty())
        return s;
    } else if (nested->IsString()) {
      rapidjson::Document inner;
      auto why = parse_untrusted_json(
          inner, {nested->GetString(), nested->GetStringLength()});
      if (why.empty() && inner.IsObject())
        if (auto s = from_object(inner); !s.empty())
          return s;
    }
  }
  return from_object(root);
}

bool failure_status(const std::string& status) {
  auto s = lower(status);
  return s == "false" || s == "fail" || s == "fails" || s == "failed"
         || s == "failure" || s == "error" || s == "0";
}

bool success_status(const std::string& status) {
  auto s = lower(status);
  return s == "true" || s == "success" || s == "ok" || s == "1"
         || contains(s, "success") || contains(s, "queued");
}

} // namespace

std::string redact(std::string_view text,
                   const std::vector<std::string>& secrets, size_t max_bytes) {
  std::string out;
  rapidjson::Document doc;
  auto why = parse_untrusted_json(doc, text);
  if (why.empty() && (doc.IsObject() || doc.IsArray())) {
    mask_json(doc, doc.GetAllocator());
    out = stringify(doc);
  } else {
    out.assign(text);
    mask_form_pairs(out);
  }
  mask_literals(out, secrets);
  mask_jwts(out);
  if (out.size() > max_bytes) {
    out.resize(max_bytes);
    out += "...";
  }
  return out;
}

namespace {

/// A time claim; 0 when absent or not a whole number of seconds in range
/// (a JWT is outside input: `exp: 1e300` must not become INT64_MIN).
int64_t claim_seconds(const rapidjson::Value& doc, const char* name) {
  auto value = member(doc, {name});
  int64_t seconds = 0;
  if (!value || !whole_number(*value, seconds))
    return 0;
  return seconds;
}

} // namespace

jwt_times jwt_claims(std::string_view token) {
  jwt_times times;
  auto first = token.find('.');
  if (first == std::string_view::npos)
    return times;
  auto second = token.find('.', first + 1);
  if (second == std::string_view::npos)
    return times;
  auto payload = token.substr(first + 1, second - first - 1);
  auto decoded = base64_decode_lenient(payload);
  if (!decoded)
    return times;
  rapidjson::Document doc;
  if (!parse_untrusted_json(doc, *decoded).empty() || !doc.IsObject())
    return times;
  times.issued_at = claim_seconds(doc, "iat");
  times.expires_at = claim_seconds(doc, "exp");
  return times;
}

int64_t jwt_expiry(std::string_view token) {
  return jwt_claims(token).expires_at;
}

result interpret(api which, int http_status, std::string_view body,
                 const std::vector<std::string>& secrets) {
  result r;
  r.which = which;
  r.http_status = http_status;
  r.raw = redact(body, secrets);
  if (http_status == 0) {
    r.what = outcome::network_error;
    return r;
  }
  rapidjson::Document doc;
  auto refused = parse_untrusted_json(doc, body);
  bool json = refused.empty();
  if (!json && json_depth(body) > max_json_depth) {
    r.what = outcome::malformed;
    r.message = "the answer is refused: " + refused;
    return r;
  }
  if (json && doc.IsObject()) {
    r.status = member_text(doc, {"status", "Status"});
    if (auto text = member(doc, {"message", "Message", "details", "Details",
                                 "error", "Error", "reason"})) {
      r.message = scalar_text(*text);
      // A message that holds JSON carries the agent state, never the text
      // the operator needs; keep it but never let a secret through.
      r.message = redact(r.message, secrets, 1024);
    }
    r.ucid = member_text(doc, {"ucid", "UCID", "Ucid", "monitorUCID"});
    if (which == api::generate_token)
      r.token = member_text(doc, {"token", "Token", "access_token"});
    if (which == api::change_agent_state)
      r.agent_state = find_agent_state(doc);
  } else if (json && doc.IsString()) {
    r.message = redact({doc.GetString(), doc.GetStringLength()}, secrets, 1024);
  } else {
    r.message = redact(trim(body), secrets, 512);
  }
  auto text = lower(r.message + " " + r.status);
  // A token problem in the text is unauthorized like a 401, but only after a
  // 5xx and an "already disposed" have had their say: the order is the rule.
  // NOLINTNEXTLINE(bugprone-branch-clone): the repeated branch keeps that order
  if (http_status == 401 || http_status == 403) {
    r.what = outcome::unauthorized;
  } else if (http_status >= 500) {
    r.what = outcome::server_error;
  } else if (contains(text, "already disposed")) {
    r.what = outcome::already_done;
  } else if (contains(text, "token expired") || contains(text, "invalid token")
             || contains(text, "token should not be null")) {
    r.what = outcome::unauthorized;
  } else if (failure_status(r.status) || http_status >= 400) {
    r.what = outcome::rejected;
  } else if (which == api::set_disposition
             && contains(text, "queued successfully")) {
    r.what = outcome::accepted;
  } else if (which == api::generate_token) {
    if (!r.token.empty()) {
      r.what = outcome::ok;
      auto times = jwt_claims(r.token);
      r.token_expires_at = times.expires_at;
      if (times.issued_at > 0 && times.expires_at > times.issued_at)
        r.token_lifetime_seconds = times.expires_at - times.issued_at;
    } else {
      r.what = outcome::malformed;
      if (r.message.empty())
        r.message = "no token in the answer";
    }
  } else if (success_status(r.status)
             || (r.status.empty() && contains(text, "success"))) {
    r.what = outcome::ok;
  } else {
    r.what = outcome::malformed;
    if (r.message.empty())
      r.message = "unrecognized answer";
  }
  return r;
}

} // namespace sb::ozonetel
