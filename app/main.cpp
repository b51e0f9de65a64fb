// switchboard: the server process.
//
//   switchboard [--config FILE] [--section.key=value ...]      serve
//   switchboard demo [...]                                      serve a
//   replayed PBX switchboard import-customers FILE [...] bulk-load customers
//
// SIGINT / SIGTERM: stop accepting, drain what the pipeline holds into the
// database, exit 0.

#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <pthread.h>

#include <caf/all.hpp>

#include "app/demo.hpp"
#include "app/import_customers.hpp"
#include "app/server.hpp"
#include "config/config.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "messages/type_ids.hpp"

extern char** environ;

namespace {

/// CAF's own defaults would read caf-application.ini and parse argv; our
/// configuration is ours alone, so CAF gets an empty command line.
struct caf_config : caf::actor_system_config {
  caf_config() {
    sb::add_switchboard_types(*this);
    set("logger.verbosity", caf::atom("quiet"));
  }
};

int serve(sb::app_config cfg, bool demo) {
  // Signals are taken synchronously by sigwait() below: block them before any
  // thread starts, so every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  sb::demo_setup demo_pbx;
  if (demo) {
    auto setup = sb::start_demo(cfg);
    if (!setup) {
      sb::log::error("main", "demo could not start",
                     {{"reason", caf::to_string(setup.error())}});
      return 1;
    }
    demo_pbx = std::move(*setup);
  }

  caf_config caf_cfg;
  caf::actor_system sys{caf_cfg};
  sb::server srv{sys, cfg};
  if (auto started = srv.start(); !started) {
    sb::log::error("main", "start-up failed",
                   {{"reason", sb::describe(started.error())}});
    return 1;
  }
  if (demo)
    sb::seed_demo_customers(srv, demo_pbx);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  sb::log::info("main", "stopping",
                {{"signal", signal_number == SIGINT ? "SIGINT" : "SIGTERM"}});
  auto left = srv.stop();
  demo_pbx.pbx.reset();
  sb::log::info("main", "stopped", {{"uncommitted", std::to_string(left)}});
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> positional;
  auto cfg = sb::load_config(argc, argv, environ, &positional);
  if (!cfg) {
    std::fprintf(stderr, "switchboard: %s\n",
                 sb::error_text(cfg.error()).c_str());
    return 2;
  }
  if (cfg->help_requested) {
    std::fputs(sb::help_text().c_str(), stdout);
    return 0;
  }
  sb::log::level lvl = sb::log::level::info;
  sb::log::parse_level(cfg->log.level, lvl);
  sb::log::set_level(lvl);

  auto command = positional.empty() ? std::string{} : positional.front();
  if (command.empty())
    return serve(std::move(*cfg), false);
  if (command == "demo" && positional.size() == 1)
    return serve(std::move(*cfg), true);
  if (command == "import-customers" && positional.size() == 2)
    return sb::run_import_customers(*cfg, positional[1], std::cout, std::cerr);
  std::fprintf(stderr,
               "switchboard: unknown command '%s'\n"
               "usage: switchboard [demo | import-customers FILE] "
               "[--config FILE] [--section.key=value ...]  (--help for keys)\n",
               command.c_str());
  return 2;
}
