// JSON request bodies as every write route reads them: any body is one
// object or a 400 with a JSON error, and typed reads of its fields either
// give a value in range or name the field.

#include <string>

#include "fuzz/fuzz.hpp"
#include "http/json.hpp"

SB_FUZZ_TARGET(input) {
  sb::http::request req;
  req.method = "POST";
  req.target = req.path = "/api/crm/calls/log";
  req.headers.emplace_back("Content-Type", "application/json");
  req.body = std::string{input};
  sb::http::response res;
  rapidjson::Document doc;
  if (!sb::http::parse_json_object(req, res, doc)) {
    sb::fuzz::require(res.status == 400, "a refused body that is not a 400");
    rapidjson::Document error;
    error.Parse(res.body.data(), res.body.size());
    sb::fuzz::require(!error.HasParseError() && error.IsObject()
                        && error.HasMember("error"),
                      "a 400 without a JSON error body");
    return;
  }
  sb::fuzz::require(doc.IsObject(), "accepted a body that is not an object");
  sb::http::field_reader fields{doc};
  auto name = fields.string("notes", false, 64);
  if (name)
    sb::fuzz::require(name->size() <= 64, "a string past its limit");
  auto seconds = fields.integer("duration_seconds", false, 0, 86400);
  if (seconds)
    sb::fuzz::require(*seconds >= 0 && *seconds <= 86400,
                      "an integer outside its range");
  if (!fields.ok())
    sb::fuzz::require(!fields.field().empty() && !fields.problem().empty(),
                      "a problem without a field");
}
