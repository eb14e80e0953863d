#pragma once

// The main thread's clusters: builds each ClusterInfo from config, resolves STRICT_DNS names
// off the request path (libuv's getaddrinfo pool), refreshes them, and publishes every change
// of a host set to the workers as a new ClusterInfo.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "event/dispatcher.h"
#include "skiff/config/v1/cluster.pb.h"
#include "stats/stats.h"
#include "upstream/cluster_info.h"

namespace skiff::upstream {

class ClusterManager {
 public:
  using ClusterMap = absl::flat_hash_map<std::string, ClusterInfoConstSharedPtr>;
  using PublishCallback = std::function<void(const ClusterMap&)>;

  ClusterManager(event::Dispatcher& main, stats::Registry& registry, PublishCallback publish);
  ~ClusterManager();

  absl::Status addClusters(const google::protobuf::RepeatedPtrField<config::v1::Cluster>& configs);
  // Calls `ready` once every cluster has its first host set (DNS answered or failed).
  void onInitialized(std::function<void()> ready);
  const ClusterMap& clusters() const { return clusters_; }

 private:
  struct DnsCluster;
  void resolve(DnsCluster& cluster);
  void onResolved(DnsCluster& cluster);
  void publishHosts(const std::string& name, HostVector hosts);
  void checkInitialized();

  event::Dispatcher& main_;
  stats::Registry& registry_;
  PublishCallback publish_;
  ClusterMap clusters_;
  std::vector<std::unique_ptr<ClusterStats>> stats_;
  std::vector<std::unique_ptr<DnsCluster>> dns_clusters_;
  std::function<void()> on_initialized_;
};

}  // namespace skiff::upstream
