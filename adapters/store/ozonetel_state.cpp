// The CloudAgent side's tables: agents (ozonetel_agents) and every UCID's
// state (ozonetel_ucid_state), both upserted by primary key.

#include "adapters/store/database_impl.hpp"
#include "domain/comms_merge.hpp"

namespace sb::store {

namespace {

unix_micros time_or_zero(const std::string& text) {
  auto t = parse_iso8601(text);
  return t ? *t : 0;
}

template <class T>
caf::expected<void> as_void(caf::expected<T> res) {
  if (!res)
    return std::move(res.error());
  return caf::unit;
}

} // namespace

caf::expected<std::vector<ozonetel_agent>> database::load_agents() {
  auto& d = *impl_;
  return d.run("load_agents", true, [&] {
    std::vector<ozonetel_agent> out;
    soci::rowset<soci::row> rs
        = (d.sql.prepare << "SELECT id, name, extension, password, source,"
                            " token_hash, created_at, updated_at"
                            " FROM ozonetel_agents ORDER BY id");
    for (auto& r : rs) {
      ozonetel_agent a;
      a.id = r.get<std::string>(0);
      a.name = r.get<std::string>(1);
      a.extension = r.get<std::string>(2);
      a.password = r.get<std::string>(3);
      a.source = r.get<std::string>(4);
      a.token_hash = r.get<std::string>(5);
      a.has_token = !a.token_hash.empty();
      a.created_at = time_or_zero(r.get<std::string>(6));
      a.updated_at = time_or_zero(r.get<std::string>(7));
      out.push_back(std::move(a));
    }
    return out;
  });
}

caf::expected<void> database::save_agent(const ozonetel_agent& agent) {
  auto& d = *impl_;
  return as_void(d.run("save_agent", false, [&] {
    auto created = iso8601_utc(agent.created_at > 0 ? agent.created_at
                                                    : now_micros());
    auto updated = iso8601_utc(agent.updated_at > 0 ? agent.updated_at
                                                    : now_micros());
    d.sql << "INSERT INTO ozonetel_agents (id, name, extension, password,"
             " source, token_hash, created_at, updated_at)"
             " VALUES (:id, :name, :ext, :pw, :src, :hash, :c, :u)"
             " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
             " extension = excluded.extension, password = excluded.password,"
             " source = excluded.source, token_hash = excluded.token_hash,"
             " updated_at = excluded.updated_at",
        soci::use(agent.id), soci::use(agent.name), soci::use(agent.extension),
        soci::use(agent.password), soci::use(agent.source),
        soci::use(agent.token_hash), soci::use(created), soci::use(updated);
    return true;
  }));
}

caf::expected<bool> database::delete_agent(const std::string& id) {
  auto& d = *impl_;
  return d.run("delete_agent", false, [&] {
    soci::statement st = (d.sql.prepare << "DELETE FROM ozonetel_agents"
                                           " WHERE id = :id",
                          soci::use(id));
    st.execute(true);
    return st.get_affected_rows() > 0;
  });
}

caf::expected<void>
database::save_ucid_states(const std::vector<ucid_state_row>& changed,
                           const std::vector<std::string>& forgotten) {
  auto& d = *impl_;
  if (changed.empty() && forgotten.empty())
    return {};
  return as_void(d.run("save_ucid_states", false, [&] {
    impl::write_tx tx{d};
    auto at = iso8601_utc(now_micros());
    for (auto& row : changed)
      d.sql << "INSERT INTO ozonetel_ucid_state (ucid, agent_id, phase, state,"
               " updated_at) VALUES (:ucid, :agent, :phase, :state, :at)"
               " ON CONFLICT (ucid) DO UPDATE SET agent_id = excluded.agent_id,"
               " phase = excluded.phase, state = excluded.state,"
               " updated_at = excluded.updated_at",
          soci::use(row.ucid), soci::use(row.agent_id), soci::use(row.phase),
          soci::use(row.state), soci::use(at);
    for (auto& ucid : forgotten)
      d.sql << "DELETE FROM ozonetel_ucid_state WHERE ucid = :ucid",
          soci::use(ucid);
    tx.commit();
    return true;
  }));
}

caf::expected<std::vector<ucid_state_row>> database::load_ucid_states() {
  auto& d = *impl_;
  return d.run("load_ucid_states", true, [&] {
    std::vector<ucid_state_row> out;
    soci::rowset<soci::row> rs
        = (d.sql.prepare << "SELECT ucid, agent_id, phase, state"
                            " FROM ozonetel_ucid_state");
    for (auto& r : rs)
      out.push_back({r.get<std::string>(0), r.get<std::string>(1),
                     r.get<std::string>(2), r.get<std::string>(3)});
    return out;
  });
}

caf::expected<std::vector<bool>> database::ozonetel_entries_unwritten(
    const std::vector<completed_call>& calls) {
  auto& d = *impl_;
  return d.run("ozonetel_entries_unwritten", true, [&] {
    std::vector<bool> out;
    out.reserve(calls.size());
    auto now = now_micros();
    auto at = iso8601_utc(now);
    for (auto& call : calls) {
      auto stored = d.load_comms("source = 'ozonetel' AND ext_message_id = :e",
                                 call.ext_message_id);
      if (!stored) {
        out.push_back(true);
        continue;
      }
      matched_call m;
      m.call = call;
      out.push_back(merge_into(*stored, to_entry(m, at, now),
                               call.started_at != 0));
    }
    return out;
  });
}

} // namespace sb::store
