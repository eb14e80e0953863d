#pragma once

// Load balancers choose a host for a request: no I/O, one instance per worker per host set.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/types/span.h"
#include "common/random.h"
#include "skiff/config/v1/cluster.pb.h"
#include "upstream/host.h"

namespace skiff::net {
class Connection;
}

namespace skiff::upstream {

struct LbContext {
  // For RING_HASH: the request's hash (router::RouteEntry::hashKey); random host when absent.
  std::optional<uint64_t> hash_key;
  // Hosts this request already tried: a retry goes to another host when the cluster has one
  // (ThreadLocalCluster::chooseHost asks the balancer again).
  absl::Span<const Host* const> hosts_tried;
  // For ORIGINAL_DST: the client's connection, whose original destination is the host.
  const net::Connection* downstream_connection = nullptr;

  bool tried(const Host& host) const {
    return std::find(hosts_tried.begin(), hosts_tried.end(), &host) != hosts_tried.end();
  }
};

class LoadBalancer {
 public:
  virtual ~LoadBalancer() = default;
  // nullptr when there are no hosts. Every policy honours Host::weight. The caller keeps the
  // returned pointer for as long as it uses the host (host sets change under DNS refresh).
  virtual HostSharedPtr chooseHost(const LbContext& context) = 0;
};

// `random` must outlive the balancer (it is the worker's generator).
std::unique_ptr<LoadBalancer> createLoadBalancer(const config::v1::Cluster& cluster,
                                                 HostVector hosts, Random& random);

}  // namespace skiff::upstream
