#pragma once

// The state of every PBX's CDR database as the catch-up actors last saw it,
// for GET /readyz (written by the actors, read by HTTP threads).

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace sb::cdr {

struct status {
  std::string pbx;
  /// "unknown" (not tried yet), "up" or "down".
  std::string state = "unknown";
  /// Why the last attempt failed (never the password).
  std::string last_error;
  /// Gaps waiting to be read.
  size_t pending_gaps = 0;
};

class status_board {
public:
  void set(const status& s) {
    std::lock_guard<std::mutex> guard{mtx_};
    all_[s.pbx] = s;
  }

  std::vector<status> snapshot() const {
    std::lock_guard<std::mutex> guard{mtx_};
    std::vector<status> out;
    for (const auto& [name, s] : all_)
      out.push_back(s);
    return out;
  }

private:
  mutable std::mutex mtx_;
  std::map<std::string, status> all_;
};

} // namespace sb::cdr
