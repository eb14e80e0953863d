#pragma once

// A worker's view of the clusters: for each, its current hosts, a load balancer over them and
// one connection pool per host. Updated when the main thread publishes new cluster infos.

#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "common/random.h"
#include "event/dispatcher.h"
#include "upstream/cluster_info.h"
#include "upstream/cluster_resources.h"
#include "upstream/upstream_request.h"
#include "upstream/load_balancer.h"

namespace skiff::upstream {

// Makes the pool for one host of a cluster. The default makes the HTTP/1.1 or HTTP/2 pool the
// cluster's protocol asks for; unit tests of the router give their own.
using PoolFactory = std::function<std::shared_ptr<ConnectionPool>(
    event::Dispatcher& dispatcher, HostSharedPtr host, ClusterInfoConstSharedPtr cluster)>;
std::shared_ptr<ConnectionPool> createConnectionPool(event::Dispatcher& dispatcher,
                                                     HostSharedPtr host,
                                                     ClusterInfoConstSharedPtr cluster);

class ThreadLocalCluster {
 public:
  ThreadLocalCluster(event::Dispatcher& dispatcher, Random& random,
                     ClusterInfoConstSharedPtr info,
                     PoolFactory pool_factory = createConnectionPool);
  ~ThreadLocalCluster();
  const ClusterInfo& info() const { return *info_; }
  const ClusterInfoConstSharedPtr& infoPtr() const { return info_; }
  // Takes a newer ClusterInfo; rebuilds the balancer when the host set or the settings changed.
  void update(ClusterInfoConstSharedPtr info);

  // The balancer's choice; when it is a host the request already tried, the balancer is asked
  // again (a few times) so that a retry goes elsewhere when the cluster has another host.
  HostSharedPtr chooseHost(const LbContext& context);
  // The pool for a host of this cluster, created on first use.
  std::shared_ptr<ConnectionPool> pool(const HostSharedPtr& host);
  // This worker's in-flight counts for the cluster (the retry budget reads them).
  const ClusterResourcesSharedPtr& resources() const { return resources_; }

 private:
  event::Dispatcher& dispatcher_;
  Random& random_;
  PoolFactory pool_factory_;
  ClusterInfoConstSharedPtr info_;
  std::unique_ptr<LoadBalancer> load_balancer_;
  absl::flat_hash_map<std::string, std::shared_ptr<ConnectionPool>> pools_;
  ClusterResourcesSharedPtr resources_ = std::make_shared<ClusterResources>();
};

class ThreadLocalClusters {
 public:
  ThreadLocalClusters(event::Dispatcher& dispatcher, Random& random,
                      PoolFactory pool_factory = createConnectionPool)
      : dispatcher_(dispatcher), random_(random), pool_factory_(std::move(pool_factory)) {}
  // Adds, updates and removes clusters to match `clusters`.
  void update(const absl::flat_hash_map<std::string, ClusterInfoConstSharedPtr>& clusters);
  ThreadLocalCluster* get(const std::string& name);

 private:
  event::Dispatcher& dispatcher_;
  Random& random_;
  PoolFactory pool_factory_;
  absl::flat_hash_map<std::string, std::unique_ptr<ThreadLocalCluster>> clusters_;
};

}  // namespace skiff::upstream
