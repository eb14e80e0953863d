#pragma once

// The main thread's clusters: builds each ClusterInfo from config, resolves STRICT_DNS names
// off the request path (libuv's getaddrinfo pool), refreshes them, and publishes every change
// of a host set to the workers as a new ClusterInfo. Clusters from the discovery stream
// (dynamic) live beside the static ones and are replaced as a set, in two steps: prepare
// (everything that can fail, nothing changed) and commit (cannot fail, publishes).

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "event/dispatcher.h"
#include "skiff/config/v1/cluster.pb.h"
#include "stats/stats.h"
#include "upstream/cluster_info.h"

namespace skiff::upstream {

class ClusterManager {
 public:
  using ClusterMap = absl::flat_hash_map<std::string, ClusterInfoConstSharedPtr>;
  using PublishCallback = std::function<void(const ClusterMap&)>;

  // The next set of dynamic clusters, checked and built but not yet visible. An unchanged
  // cluster keeps its current ClusterInfo, so workers keep its balancer and pools.
  struct DynamicPlan {
    std::map<std::string, std::shared_ptr<ClusterInfo>> clusters;
    std::map<std::string, config::v1::Cluster> configs;
  };

  ClusterManager(event::Dispatcher& main, stats::Registry& registry, PublishCallback publish);
  ~ClusterManager();
  // Before the main loop closes: timers hold loop handles. DNS answers still in flight may
  // arrive afterwards; they update hosts but schedule no refresh.
  void stopTimers();

  absl::Status addClusters(const google::protobuf::RepeatedPtrField<config::v1::Cluster>& configs);
  // Calls `ready` once every cluster has its first host set (DNS answered or failed).
  void onInitialized(std::function<void()> ready);
  const ClusterMap& clusters() const { return clusters_; }
  bool isStatic(const std::string& name) const { return static_names_.count(name) > 0; }

  // Dynamic clusters: STATIC or EDS (hosts from `endpoints`, no DNS). Errors name the cluster.
  absl::StatusOr<DynamicPlan> prepareDynamic(
      const std::map<std::string, config::v1::Cluster>& configs) const;
  // Replaces every dynamic cluster with the plan's and publishes once. A removed cluster
  // leaves the workers' maps; its in-flight requests finish on the pools they hold.
  void commitDynamic(DynamicPlan plan);
  const std::map<std::string, config::v1::Cluster>& dynamicConfigs() const {
    return dynamic_configs_;
  }

 private:
  struct DnsCluster;
  void resolve(DnsCluster& cluster);
  void onResolved(DnsCluster& cluster);
  void publishHosts(const std::string& name, HostVector hosts);
  void checkInitialized();
  // One stats object per cluster name for the life of the process: a cluster that changes or
  // comes back keeps its metric series.
  ClusterStats* statsFor(const std::string& name);
  // Attaches the cluster's stats and circuit breakers (one per name, like the stats; the
  // limits of this config) and compiles its `tls`.
  void attachShared(ClusterInfo& info);
  // Sets info.balanced_hosts from its hosts and what outlier detection has ejected.
  void setBalancedHosts(ClusterInfo& info);
  // Outlier detection ejected or brought back a host: the cluster goes out again.
  void republishHealth(const std::string& name);
  // Compiles the cluster's `tls` (its handshake counters need the registry).
  void attachTls(ClusterInfo& info);

  event::Dispatcher& main_;
  stats::Registry& registry_;
  PublishCallback publish_;
  ClusterMap clusters_;
  absl::flat_hash_map<std::string, std::unique_ptr<ClusterStats>> stats_;
  absl::flat_hash_map<std::string, std::unique_ptr<CircuitBreakers>> breakers_;
  absl::flat_hash_map<std::string, std::shared_ptr<OutlierDetector>> outlier_detectors_;
  std::set<std::string> static_names_;
  std::map<std::string, config::v1::Cluster> dynamic_configs_;
  std::vector<std::unique_ptr<DnsCluster>> dns_clusters_;
  std::function<void()> on_initialized_;
};

}  // namespace skiff::upstream
