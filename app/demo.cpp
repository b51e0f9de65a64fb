#include "app/demo.hpp"

#include <fstream>

#include "core/log.hpp"

#ifndef SB_DEMO_CAPTURE_DIR
#define SB_DEMO_CAPTURE_DIR "tests/fixtures/ami"
#endif

namespace sb {

namespace {

std::string find_capture() {
  const char* name = "/dev-11-burst-50.ami";
  // Built tree first, then relative to the working directory (container and
  // packaged installs copy the capture next to the binary's share dir).
  for (const std::string& dir :
       {std::string{SB_DEMO_CAPTURE_DIR}, std::string{"tests/fixtures/ami"},
        std::string{"/usr/share/switchboard"}}) {
    std::ifstream probe{dir + name};
    if (probe)
      return dir + name;
  }
  return std::string{SB_DEMO_CAPTURE_DIR} + name;
}

} // namespace

caf::expected<demo_setup> start_demo(app_config& cfg) {
  ami::replay_options opts;
  opts.capture_path = find_capture();
  opts.username = "demo";
  opts.secret = "demo-secret";
  // About 20 s for the 50 calls, then again: the same Linkedids come back,
  // and the comms log shows idempotency at work (no second entry).
  opts.events_per_second = 200;
  opts.loop = true;
  auto started = ami::replay_server::start(opts);
  if (!started)
    return started.error();
  demo_setup setup;
  setup.pbx = std::move(*started);
  pbx_config pbx;
  pbx.name = "demo";
  pbx.host = "127.0.0.1";
  pbx.port = setup.pbx->port();
  pbx.username = opts.username;
  pbx.secret = opts.secret;
  pbx.events = "on";
  cfg.pbxes = {pbx};
  if (cfg.http.token.empty()) {
    cfg.http.token = "demo";
    log::info("demo", "API token for this demo is 'demo'",
              {{"try", "curl -H 'Authorization: Bearer demo' "
                       "127.0.0.1:8080/api/crm/comms"}});
  }
  // Numbers that call in the recording, written as a CRM would hold them.
  setup.customers = {{"Alex Morgan", "020 7946 0886"},
                     {"Priya Shah", "07700 900189"},
                     {"Sam Carter", "+1 555 010 0199"}};
  log::info(
      "demo", "replaying a recorded PBX",
      {{"capture", opts.capture_path}, {"port", std::to_string(pbx.port)}});
  return setup;
}

} // namespace sb

#include <caf/scoped_actor.hpp>

#include "adapters/phone/normalizer.hpp"
#include "adapters/store/database.hpp"
#include "app/server.hpp"

namespace sb {

void seed_demo_customers(server& srv, const demo_setup& setup) {
  phone::normalizer numbers{srv.config().phone.default_region};
  auto db = store::database::open(srv.config().db.url);
  if (!db) {
    log::warning("demo", "customers not seeded",
                 {{"reason", caf::to_string(db.error())}});
    return;
  }
  caf::scoped_actor self{srv.writer().home_system()};
  for (auto& [name, phone] : setup.customers) {
    customer c;
    c.name = name;
    c.phone = phone;
    c.phone_e164 = numbers.to_e164(phone);
    auto known = (*db)->find_customers_by_e164(c.phone_e164);
    if (known && !known->empty())
      continue;
    self->request(srv.writer(), std::chrono::seconds{5}, customer_atom_v, c)
        .receive(
            [&](customer& added) {
              self->send(srv.matcher(), customer_atom_v, std::move(added));
            },
            [&](caf::error& err) {
              log::warning("demo", "customer not added",
                           {{"reason", caf::to_string(err)}});
            });
  }
}

} // namespace sb
