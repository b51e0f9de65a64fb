// The Ozonetel adapter's costs: reading CloudAgent's callback (every call
// ends with one), reading an answer with its secrets removed, and one REST
// round trip to the local CloudAgent stand-in (a new connection per call, as
// the client makes them).

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "adapters/ozonetel/answer.hpp"
#include "adapters/ozonetel/callback.hpp"
#include "adapters/ozonetel/client.hpp"
#include "bench/bench.hpp"
#include "tests/fixtures/ozonetel_server.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
constexpr int runs = 5;

template <class Op>
double us_per_op(int ops, Op op) {
  std::vector<double> samples;
  for (int r = 0; r < runs; ++r) {
    auto t0 = clock_type::now();
    for (int i = 0; i < ops; ++i)
      op(i);
    samples.push_back(sb::bench::seconds_since(t0) * 1e6 / ops);
  }
  return sb::bench::median(samples);
}

} // namespace

SB_BENCH("ozonetel") {
  sb::test::ozonetel_server fake;
  auto form = fake.callback_form({{"monitorUCID", "9100000000000777"},
                                  {"CallerID", "+919845012345"},
                                  {"Did", "918000011111"},
                                  {"CampaignName", "Inbound_Sales"},
                                  {"AgentID", "agent007"},
                                  {"StartTime", "2026-11-21 10:00:00"},
                                  {"EndTime", "2026-11-21 10:02:05"},
                                  {"Duration", "00:02:05"},
                                  {"CallDuration", "00:01:40"},
                                  {"Status", "Answered"},
                                  {"DialStatus", "answered"},
                                  {"Type", "InBound"},
                                  {"Disposition", "Sale"},
                                  {"HangupBy", "CustomerHangup"},
                                  {"AudioFile", "https://rec.example/x.mp3"}});
  size_t sink = 0;
  auto parse = us_per_op(20000, [&](int) {
    sink += sb::ozonetel::parse_callback_form(form).details.sanitized_json.size();
  });
  std::printf("  %-40s %8.2f us/op\n", "callback form -> call details", parse);

  const std::string answer
    = R"({"status":"false","message":"This call is already Disposed.","apiKey":"KK-test-api-key-4f1e9a"})";
  std::vector<std::string> secrets{"KK-test-api-key-4f1e9a", "agent-pass-9c2b"};
  auto interpret = us_per_op(50000, [&](int) {
    sink += sb::ozonetel::interpret(sb::ozonetel::api::set_disposition, 200,
                                    answer, secrets)
              .raw.size();
  });
  std::printf("  %-40s %8.2f us/op\n", "answer -> result (redacted)", interpret);

  sb::ozonetel::settings s;
  auto& o = fake.opts();
  s.api_base = fake.base_url();
  s.account = o.account;
  s.api_key = o.api_key;
  s.agent_id = o.agent_id;
  s.campaign = o.campaign;
  s.did = o.did;
  sb::ozonetel::client c{s};
  auto token = c.generate_token().token;
  std::vector<double> latencies;
  for (int r = 0; r < runs; ++r)
    for (int i = 0; i < 100; ++i) {
      auto t0 = clock_type::now();
      sink += c.change_agent_state(token, "Ready", {}).raw.size();
      latencies.push_back(sb::bench::seconds_since(t0) * 1e3);
    }
  std::printf("  %-40s %8.3f ms median, %.3f ms p99 (%zu calls)\n",
              "REST round trip to 127.0.0.1", sb::bench::median(latencies),
              sb::bench::percentile(latencies, 0.99), latencies.size());
  if (sink == 42)
    std::printf("\n");
}
