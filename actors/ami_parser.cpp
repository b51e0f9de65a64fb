#include "actors/ami_parser.hpp"

#include <utility>

#include "adapters/ami/codec.hpp"
#include "core/log.hpp"

namespace sb {

namespace {

constexpr const char* events_metric = "switchboard_ami_events_total";
constexpr const char* events_help = "AMI events received, by event name.";
constexpr const char* rejected_metric = "switchboard_ami_frames_rejected_total";
constexpr const char* rejected_help
    = "AMI frames dropped: malformed, oversized, or not an event.";

} // namespace

ami_parser_state::event_slot&
ami_parser_state::slot_for(std::string_view event_name) {
  auto n = event_name.size();
  auto hash = (n * 131 + static_cast<unsigned char>(event_name[0]) * 7
               + static_cast<unsigned char>(event_name[n / 2]) * 3
               + static_cast<unsigned char>(event_name[n - 1]))
              & 255;
  if (auto* hit = recent[hash]; hit != nullptr && hit->name == event_name)
    return *hit;
  event_slot* slot;
  if (auto i = slot_index.find(event_name); i != slot_index.end()) {
    slot = i->second;
  } else if (slots.size() >= max_event_names) {
    if (other_slot == nullptr) {
      other_slot = &slots.emplace_back();
      other_slot->name = "other";
      other_slot->counter = &metrics::global().get_counter(
          events_metric, events_help, {{"pbx", pbx}, {"event", "other"}});
    }
    return *other_slot;
  } else {
    slot = &slots.emplace_back();
    slot->name = std::string{event_name};
    slot->counter = &metrics::global().get_counter(
        events_metric, events_help, {{"pbx", pbx}, {"event", slot->name}});
    slot_index.emplace(std::string_view{slot->name}, slot);
  }
  recent[hash] = slot;
  return *slot;
}

void ami_parser_state::flush_counts() {
  for (auto& slot : slots) {
    if (slot.pending > 0) {
      slot.counter->inc(static_cast<double>(slot.pending));
      slot.pending = 0;
    }
  }
}

ami_parser_actor::behavior_type
ami_parser(ami_parser_actor::stateful_pointer<ami_parser_state> self,
           std::string pbx, call_tracker_actor tracker,
           std::shared_ptr<flow_gate> gate) {
  auto& st = self->state;
  st.gate = std::move(gate);
  st.pbx = std::move(pbx);
  st.queued = &metrics::global().get_gauge(
      "switchboard_ami_queued_bytes",
      "Bytes read from a PBX and not yet through the call tracker.",
      {{"pbx", st.pbx}});
  st.tracker = std::move(tracker);
  auto& reg = metrics::global();
  st.rejected_malformed
      = &reg.get_counter(rejected_metric, rejected_help,
                         {{"pbx", st.pbx}, {"reason", "malformed"}});
  st.rejected_not_event
      = &reg.get_counter(rejected_metric, rejected_help,
                         {{"pbx", st.pbx}, {"reason", "not_event"}});
  return {
      [self](ami_frame_batch& batch) {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        auto& st = self->state;
        size_t bytes = 0;
        if (st.gate)
          for (auto& frame : batch.frames)
            bytes += frame.size();
        ami_event_batch out;
        out.pbx = st.pbx;
        out.events.reserve(batch.frames.size());
        uint64_t malformed = 0;
        uint64_t not_event = 0;
        for (auto& frame : batch.frames) {
          auto& ev = out.events.emplace_back();
          if (!ami::parse_frame(std::move(frame), ev)) {
            out.events.pop_back();
            ++malformed;
            continue;
          }
          auto event_name = ev.name();
          if (event_name.empty()) {
            // A response nobody asked for: nothing for the tracker.
            out.events.pop_back();
            ++not_event;
            continue;
          }
          ++st.slot_for(event_name).pending;
          ev.pbx = st.pbx;
          ev.received = batch.received;
        }
        for (auto& [name, n] : batch.skipped)
          if (!name.empty())
            st.slot_for(name).pending += n;
        st.flush_counts();
        if (malformed > 0) {
          st.rejected_malformed->inc(static_cast<double>(malformed));
          if (st.rejected == 0)
            log::warning(ami_parser_state::name, "malformed AMI frame dropped",
                         {{"pbx", st.pbx}});
        }
        if (not_event > 0)
          st.rejected_not_event->inc(static_cast<double>(not_event));
        st.rejected += malformed + not_event;
        st.events += out.events.size();
        if (out.events.empty() || !st.tracker) {
          if (st.gate)
            st.gate->release(bytes);
          return;
        }
        if (!st.gate) {
          self->send(st.tracker, std::move(out));
          return;
        }
        // Charged until the tracker answers: then nothing of this batch
        // waits in a mailbox, and the writer has room for its calls.
        auto release = [gate = st.gate, queued = st.queued, bytes] {
          gate->release(bytes);
          queued->set(static_cast<double>(gate->queued()));
        };
        self->request(st.tracker, caf::infinite, std::move(out), credit_atom_v)
            .then([release](bool) { release(); },
                  [release](caf::error&) { release(); });
      },
      [](flush_atom) { return true; },
      [self](connection_lost_atom atom, std::string& lost_pbx) {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        if (self->state.tracker)
          self->send(self->state.tracker, atom, std::move(lost_pbx));
      },
      [self](rewire_atom, caf::actor& tracker) {
        self->state.tracker = caf::actor_cast<call_tracker_actor>(tracker);
      },
  };
}

ami_parser_actor spawn_ami_parser(caf::actor_system& sys, std::string pbx,
                                  call_tracker_actor tracker,
                                  std::shared_ptr<flow_gate> gate) {
  return sys.spawn(ami_parser, std::move(pbx), std::move(tracker),
                   std::move(gate));
}

} // namespace sb
