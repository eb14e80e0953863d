#pragma once

// A cluster as the data path sees it: immutable settings, its metrics and its current hosts.
// Built on the main thread; a changed host set (DNS refresh, new endpoints) or changed settings
// (a new version from the discovery stream) makes a new ClusterInfo.

#include <chrono>
#include <memory>
#include <string>

#include "skiff/config/v1/cluster.pb.h"
#include "stats/stats.h"
#include "tls/tls_settings.h"
#include "upstream/circuit_breakers.h"
#include "upstream/host.h"
#include "upstream/outlier_detector.h"

namespace skiff::upstream {

struct ClusterStats {
  stats::CodeCounter& requests_total;
  stats::Histogram& request_duration;
  stats::Gauge& requests_active;
  stats::Counter& connections_total;
  stats::Gauge& connections_active;
  stats::Counter& connect_failures;
  stats::Counter& connect_timeouts;
  stats::Counter& connections_reused;
  stats::Counter& request_timeouts;
  stats::Gauge& hosts;
  stats::Counter& lb_no_host;
  // ORIGINAL_DST: connections refused because their destination was the proxy's own listener
  // (not redirected; proxying them would connect back to the proxy, a loop).
  stats::Counter& original_dst_refused;
  // Retries (router/retry_state.h): made, refused by the retry budget, and failures that were
  // retriable but had no retry left.
  stats::Counter& retries;
  stats::Counter& retry_overflow;
  stats::Counter& retry_limit_exceeded;
  stats::Counter& per_try_timeouts;

  static ClusterStats create(stats::Registry& registry, const std::string& cluster);
};

struct ClusterInfo {
  std::string name;
  config::v1::Cluster config;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds idle_timeout{60000};
  uint32_t max_requests_per_connection = 0;
  ClusterStats* stats = nullptr;  // owned by the ClusterManager, one per name, never freed
  CircuitBreakers* breakers = nullptr;  // the same: counts outlive config changes
  std::shared_ptr<const HostVector> hosts;
  // What the balancer picks from: `hosts` without those outlier detection ejected (all of
  // `hosts` past the panic threshold; see hostsToBalance). Pools exist for every host.
  std::shared_ptr<const HostVector> balanced_hosts;
  // Passive health, while the config has outlier_detection; else null. Owned like `stats`.
  OutlierDetector* outlier = nullptr;
  // Mutual TLS to the hosts (null: plaintext). Attached with the stats, by the ClusterManager.
  std::shared_ptr<const tls::UpstreamTlsSettings> tls;
  // Hash of every setting except the endpoints: when it changes, workers rebuild the load
  // balancer and drain every pool (protocol, timeouts, lb policy may all differ).
  uint64_t settings_hash = 0;
};

using ClusterInfoConstSharedPtr = std::shared_ptr<const ClusterInfo>;

}  // namespace skiff::upstream
