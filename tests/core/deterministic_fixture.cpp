// The deterministic actor system steps actors and time by hand.

#include <catch2/catch.hpp>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "tests/fixtures/deterministic_actor_system.hpp"

using namespace std::chrono_literals;

TEST_CASE("the deterministic actor system runs nothing until told to") {
  sb::test::deterministic_actor_system env;
  int seen = 0;
  auto counter = env.sys.spawn([&seen](caf::event_based_actor* self) {
    return caf::behavior{
        [&seen, self](int x) {
          seen += x;
          if (x == 1)
            self->delayed_send(self, 10s, 10);
        },
    };
  });
  env.run();
  caf::anon_send(counter, 1);
  CHECK(seen == 0);
  CHECK(env.step());
  CHECK(seen == 1);
  CHECK_FALSE(env.step());
  auto before = env.clock()();
  env.advance(9s);
  CHECK(seen == 1);
  env.advance(1s);
  CHECK(seen == 11);
  CHECK(env.clock()() - before == 10'000'000);
  caf::anon_send_exit(counter, caf::exit_reason::user_shutdown);
}
