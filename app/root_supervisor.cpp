#include "app/root_supervisor.hpp"

#include <algorithm>
#include <utility>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/ami_connection.hpp"
#include "adapters/metrics/registry.hpp"
#include "core/log.hpp"
#include "core/restart_budget.hpp"

namespace sb {

namespace {

constexpr const char* log_name = "root_supervisor";

struct child_entry {
  supervised_child child;
  restart_budget budget;
};

struct root_state {
  std::vector<child_entry> children;
  root_options options;
  bool stopping = false;
  bool gave_up = false;
};

using root_pointer = root_supervisor_actor::stateful_pointer<root_state>;

/// An exit that is part of a stop, not a failure.
bool is_stop(const caf::error& reason) {
  return !reason || reason == caf::exit_reason::user_shutdown
         || reason == caf::exit_reason::normal;
}

void give_up(root_pointer self, const std::string& why) {
  auto& st = self->state;
  if (st.gave_up)
    return;
  st.gave_up = true;
  st.stopping = true;
  log::error(log_name, "giving up: a pipeline actor keeps dying; exiting so "
                       "that the service manager restarts switchboard",
             {{"reason", why}});
  if (st.options.give_up)
    st.options.give_up(why);
}

void on_down(root_pointer self, const caf::down_msg& down) {
  auto& st = self->state;
  auto i = std::find_if(st.children.begin(), st.children.end(),
                        [&](const child_entry& e) {
                          return e.child.handle
                                 && e.child.handle.address() == down.source;
                        });
  if (i == st.children.end())
    return;
  auto& entry = *i;
  entry.child.handle = nullptr;
  if (st.stopping || is_stop(down.reason))
    return;
  auto why = exit_reason_text(self->system(), down.reason);
  auto& name = entry.child.name;
  if (!entry.budget.allow(restart_budget::clock::now())) {
    give_up(self, name + " died "
                      + std::to_string(entry.budget.max_restarts() + 1)
                      + " times within "
                      + std::to_string(entry.budget.window().count())
                      + " s; last: " + why);
    return;
  }
  log::error(log_name, "pipeline actor died, restarting it",
             {{"actor", name}, {"error", why}});
  if (auto* restarts = metrics::global().actor(name).restarts)
    restarts->inc();
  entry.child.handle = entry.child.respawn();
  self->monitor(entry.child.handle);
  if (entry.child.replaced)
    entry.child.replaced(entry.child.handle);
}

root_supervisor_actor::behavior_type
root_supervisor(root_pointer self, std::vector<supervised_child> children,
                root_options options) {
  auto& st = self->state;
  st.options = std::move(options);
  for (auto& child : children) {
    if (child.handle)
      self->monitor(child.handle);
    st.children.push_back(
        {std::move(child),
         restart_budget{st.options.max_restarts, st.options.window}});
  }
  self->set_down_handler(
      [self](caf::down_msg& down) { on_down(self, down); });
  return {
      [self](flush_atom) {
        self->state.stopping = true;
        return true;
      },
  };
}

} // namespace

root_supervisor_actor spawn_root_supervisor(caf::actor_system& sys,
                                            std::vector<supervised_child> children,
                                            root_options options) {
  return sys.spawn(root_supervisor, std::move(children), std::move(options));
}

} // namespace sb
