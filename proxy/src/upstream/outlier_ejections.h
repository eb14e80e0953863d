#pragma once

// The decisions of outlier detection for one cluster: which hosts are ejected, since when, and
// for how long. Main thread only. Pure bookkeeping over host addresses and the times the
// caller passes in, so that its unit tests need no clock and no loop; OutlierDetector
// (outlier_detector.h) feeds it the workers' reports and publishes what it decides.
//
// As Envoy's: an ejected host stays out for base_ejection_time x the number of times it has
// been ejected, capped at max_ejection_time; each review that finds a host in and behaving
// lowers that number by one; at most max_ejection_percent of the hosts are out at once, but
// one host always may be.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "skiff/config/v1/cluster.pb.h"

namespace skiff::upstream {

class OutlierEjections {
 public:
  using Time = std::chrono::steady_clock::time_point;

  struct Settings {
    std::chrono::milliseconds base_ejection_time{30000};
    std::chrono::milliseconds max_ejection_time{300000};
    uint32_t max_ejection_percent = 10;
  };
  static Settings settingsFrom(const config::v1::OutlierDetection& config);
  // Whether `config` makes sense; the error names the bad field under `path` (the proxy's
  // validator and skiff-control's mesh loader both ask here).
  static absl::Status check(const config::v1::OutlierDetection& config, const std::string& path);

  enum class Decision { kEjected, kAlreadyEjected, kOverMaxEjectionPercent };

  void setSettings(const Settings& settings) { settings_ = settings; }
  // A host crossed a failure threshold at `now`, in a cluster of `host_count` hosts.
  Decision onFailureStreak(const std::string& address, Time now, size_t host_count);
  // The periodic review at `now`: the hosts whose time is up come back (returned).
  std::vector<std::string> review(Time now);
  bool ejected(const std::string& address) const;
  size_t ejectedCount() const;
  // How many times the host has been ejected, less the reviews it has behaved since.
  uint32_t ejectionMultiplier(const std::string& address) const;
  // When an ejected host comes back (at the first review from then on).
  Time ejectedUntil(const std::string& address) const;
  // Hosts that left the cluster are forgotten.
  void retainOnly(const std::vector<std::string>& addresses);

 private:
  struct HostState {
    bool ejected = false;
    Time until{};
    uint32_t multiplier = 0;
  };
  Settings settings_;
  absl::flat_hash_map<std::string, HostState> hosts_;
};

}  // namespace skiff::upstream
