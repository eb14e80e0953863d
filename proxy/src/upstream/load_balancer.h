#pragma once

// Load balancers choose a host for a request: no I/O, one instance per worker per host set.

#include <cstdint>
#include <memory>
#include <optional>

#include "common/random.h"
#include "skiff/config/v1/cluster.pb.h"
#include "upstream/host.h"

namespace skiff::upstream {

struct LbContext {
  // For RING_HASH: the request's hash (router::RouteEntry::hashKey); random host when absent.
  std::optional<uint64_t> hash_key;
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
