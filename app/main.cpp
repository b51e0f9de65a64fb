// switchboard: the server process.
//
//   switchboard [--config FILE] [--section.key=value ...]   serve
//   switchboard demo [...]                 serve a replayed PBX
//   switchboard import-customers FILE [...]  bulk-load customers
//   switchboard backfill --pbx NAME --from T1 --to T2 [...]  reconcile a
//                                            period with the PBX's CDR
//   switchboard check-config [...]         print the effective configuration
//                                          (secrets masked); exit 0 / 2
//   switchboard --version
//
// SIGINT / SIGTERM: stop accepting, drain what the pipeline holds into the
// database, exit 0. SIGHUP (systemctl reload): read the configuration again
// and apply what can change while running (server::reload).

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <caf/all.hpp>

#include "app/demo.hpp"
#include "app/backfill.hpp"
#include "app/import_customers.hpp"
#include "app/notify.hpp"
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

struct invocation {
  int argc;
  char** argv;
};

/// SIGHUP: the same command line and environment, the file read again. A
/// configuration that no longer loads changes nothing.
void reload(sb::server& srv, const invocation& how) {
  auto next = sb::load_config(how.argc, how.argv, environ);
  if (!next) {
    sb::log::error("main", "reload refused: the configuration is invalid",
                   {{"reason", sb::error_text(next.error())}});
    return;
  }
  srv.reload(*next);
}

int serve(sb::app_config cfg, bool demo, const invocation& how) {
  // Signals are taken synchronously by sigwait() below: block them before any
  // thread starts, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  // Raised by the root supervisor when a pipeline actor keeps dying.
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
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
  sb::server_options opts;
  opts.on_give_up = [](const std::string&) { ::kill(::getpid(), SIGUSR1); };
  sb::server srv{sys, cfg, opts};
  if (auto started = srv.start(); !started) {
    sb::log::error("main", "start-up failed",
                   {{"reason", sb::describe(started.error())}});
    return 1;
  }
  if (demo)
    sb::seed_demo_customers(srv, demo_pbx);
  sb::notify_systemd("READY=1");

  int signal_number = 0;
  for (;;) {
    sigwait(&signals, &signal_number);
    if (signal_number != SIGHUP)
      break;
    sb::log::info("main", "reloading", {{"signal", "SIGHUP"}});
    sb::notify_systemd("RELOADING=1");
    reload(srv, how);
    sb::notify_systemd("READY=1");
  }
  sb::notify_systemd("STOPPING=1");
  const bool gave_up = signal_number == SIGUSR1;
  if (gave_up)
    sb::log::error("main", "stopping: the pipeline cannot run (see the "
                           "root_supervisor line above); exit code 1");
  else
    sb::log::info("main", "stopping",
                  {{"signal", signal_number == SIGINT ? "SIGINT" : "SIGTERM"}});
  auto left = srv.stop(std::chrono::milliseconds{
      static_cast<int64_t>(cfg.db.shutdown_timeout_seconds * 1000)});
  demo_pbx.pbx.reset();
  auto drained = srv.last_drain();
  sb::log::info("main", "stopped",
                {{"committed", std::to_string(drained.committed)},
                 {"spooled", std::to_string(drained.spooled)},
                 {"lost", std::to_string(drained.lost)},
                 {"uncommitted", std::to_string(left)}});
  return gave_up ? 1 : 0;
}

bool wants_version(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--version") == 0)
      return true;
  return false;
}

} // namespace

int main(int argc, char** argv) {
  // Customer data: what switchboard creates (database, -wal, -shm, spool) is
  // never readable by other local users, whatever umask it was started with.
  ::umask(027);
  if (wants_version(argc, argv)) {
    std::printf("switchboard %s (revision %s)\n", SB_VERSION, SB_REVISION);
    return 0;
  }
  // backfill's own flags are no config keys: taken out before the rest is
  // read as settings.
  caf::optional<sb::backfill_request> backfill;
  std::vector<std::string> kept_args;
  std::vector<char*> kept_argv;
  if (argc > 1 && std::strcmp(argv[1], "backfill") == 0) {
    std::vector<std::string> rest(argv + 2, argv + argc);
    auto request = sb::take_backfill_arguments(rest);
    if (!request) {
      std::fprintf(stderr, "switchboard: %s\n",
                   sb::error_text(request.error()).c_str());
      return 2;
    }
    backfill = std::move(*request);
    kept_args.emplace_back(argv[0]);
    kept_args.emplace_back("backfill");
    kept_args.insert(kept_args.end(), rest.begin(), rest.end());
    for (auto& a : kept_args)
      kept_argv.push_back(a.data());
    kept_argv.push_back(nullptr);
    argc = static_cast<int>(kept_args.size());
    argv = kept_argv.data();
  }
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
  sb::log::set_journal_priorities(
      sb::log::is_journal_stream(std::getenv("JOURNAL_STREAM"), STDERR_FILENO));
  sb::log::level lvl = sb::log::level::info;
  sb::log::parse_level(cfg->log.level, lvl);
  sb::log::set_level(lvl);
  for (const auto& note : cfg->notes)
    sb::log::info("config", note);

  auto command = positional.empty() ? std::string{} : positional.front();
  invocation how{argc, argv};
  if (command.empty())
    return serve(std::move(*cfg), false, how);
  if (command == "demo" && positional.size() == 1)
    return serve(std::move(*cfg), true, how);
  if (command == "import-customers" && positional.size() == 2)
    return sb::run_import_customers(*cfg, positional[1], std::cout, std::cerr);
  if (command == "backfill" && backfill && positional.size() == 1)
    return sb::run_backfill(*cfg, *backfill, std::cout, std::cerr);
  if (command == "check-config" && positional.size() == 1) {
    std::fputs(sb::describe(*cfg).c_str(), stdout);
    return 0;
  }
  std::fprintf(stderr,
               "switchboard: unknown command '%s'\n"
               "usage: switchboard [demo | import-customers FILE | "
               "backfill --pbx NAME --from T1 --to T2 | check-config] [--config FILE] [--section.key=value ...]  "
               "(--help for keys, --version)\n",
               command.c_str());
  return 2;
}
