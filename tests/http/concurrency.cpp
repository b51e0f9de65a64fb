// Concurrent manual logs: 16 clients x 200 requests, each with an
// Idempotency-Key, some retried and some keys sent by two clients at once.
// Every distinct key must be stored exactly once and every answer for a key
// must name the same entry.

#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tests/fixtures/http_fixture.hpp"

using namespace sb;
using namespace sb::test;

TEST_CASE("16 clients x 200 manual logs are stored exactly once") {
  constexpr int clients = 16;
  constexpr int per_client = 200;
  server_options opts;
  opts.threads = 16;
  // Exactly-once is the point here, not latency: the machine may be busy.
  opts.request_timeout_seconds = 30;
  test_server srv{opts};
  std::vector<int64_t> customers;
  {
    auto c = srv.client();
    for (int i = 0; i < 4; ++i)
      customers.push_back(add_customer(c, "Customer " + std::to_string(i),
                                       "+4420794601" + std::to_string(20 + i)));
  }
  // The key decides the payload, so two requests with one key are the same
  // call (a retry), never a conflict.
  auto key_of = [](int client, int i) {
    // Every 10th request of client c shares its key with client c +- 8.
    if (i % 10 == 0)
      return "shared-" + std::to_string(client % 8) + "-" + std::to_string(i);
    return "c" + std::to_string(client) + "-" + std::to_string(i);
  };
  auto body_of = [&](const std::string& key) {
    auto h = std::hash<std::string>{}(key);
    return R"({"customer_id":)" + std::to_string(customers[h % 4])
           + R"(,"direction":")" + (h % 2 ? "inbound" : "outbound")
           + R"(","duration_seconds":)" + std::to_string(h % 3600)
           + R"(,"notes":"key )" + key
           + R"(","occurred_at":"2026-11-21T12:00:00Z"})";
  };
  std::mutex mtx;
  std::map<std::string, std::set<int64_t>> ids_by_key;
  std::map<int, int> statuses;
  int retries = 0;
  std::string failure_example;
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t)
    threads.emplace_back([&, t] {
      httplib::Client c{"127.0.0.1", srv.port};
      c.set_keep_alive(true);
      // Longer than the server's request timeout (30 s): the server answers
      // every request, with 503 at worst, before this client gives up, so a
      // missing answer (-1) can only be the server dropping one.
      c.set_read_timeout(60);
      std::map<std::string, std::set<int64_t>> mine;
      std::map<int, int> my_statuses;
      int my_retries = 0;
      std::string first_failure;
      for (int i = 0; i < per_client; ++i) {
        auto key = key_of(t, i);
        // Every 7th request is retried right away, as a client that lost
        // the first answer would.
        int sends = i % 7 == 0 ? 2 : 1;
        for (int s = 0; s < sends; ++s) {
          auto headers = auth_write();
          headers.emplace("Idempotency-Key", key);
          auto res = c.Post("/api/crm/calls/log", headers, body_of(key),
                            "application/json");
          if (!res) {
            ++my_statuses[-1];
            continue;
          }
          ++my_statuses[res->status];
          if (res->status != 201 && first_failure.empty())
            first_failure = res->body;
          if (res->status == 201) {
            rapidjson::Document doc;
            doc.Parse(res->body.c_str());
            if (doc.IsObject() && doc.HasMember("id"))
              mine[key].insert(doc["id"].GetInt64());
          }
          if (s > 0)
            ++my_retries;
        }
      }
      std::lock_guard<std::mutex> guard{mtx};
      for (auto& [k, v] : mine)
        ids_by_key[k].insert(v.begin(), v.end());
      for (auto& [st, n] : my_statuses)
        statuses[st] += n;
      retries += my_retries;
      if (!first_failure.empty() && failure_example.empty())
        failure_example = first_failure;
    });
  for (auto& th : threads)
    th.join();

  std::set<std::string> keys;
  for (int t = 0; t < clients; ++t)
    for (int i = 0; i < per_client; ++i)
      keys.insert(key_of(t, i));
  std::string summary;
  for (auto& [st, n] : statuses)
    summary += std::to_string(st) + ": " + std::to_string(n) + "; ";
  INFO("statuses " << summary << "retries: " << retries);
  INFO("a failure: " << failure_example);
  CHECK(statuses.size() == 1);
  CHECK(statuses[201] == clients * per_client + retries);
  REQUIRE(ids_by_key.size() == keys.size());
  std::set<int64_t> all_ids;
  for (auto& [key, ids] : ids_by_key) {
    INFO(key);
    CHECK(ids.size() == 1);
    all_ids.insert(ids.begin(), ids.end());
  }
  CHECK(all_ids.size() == keys.size());
  CHECK(srv.comms_rows() == static_cast<int64_t>(keys.size()));
  // Each stored entry is the call its key describes.
  auto db = srv.open_db();
  comms_query q;
  q.limit = 500;
  q.source = "manual";
  size_t seen = 0;
  for (;;) {
    auto page = db->query_comms(q);
    REQUIRE(page);
    for (auto& e : *page) {
      auto key = e.body.substr(e.body.find("key ") + 4);
      CHECK(keys.count(key) == 1);
      CHECK(*ids_by_key[key].begin() == e.id);
      ++seen;
    }
    if (page->size() < 500)
      break;
    q.cursor_occurred_at = page->back().occurred_at;
    q.cursor_id = page->back().id;
  }
  CHECK(seen == keys.size());
}
