#include "upstream/load_balancer.h"

#include "upstream/lb_least_request.h"
#include "upstream/lb_random.h"
#include "upstream/lb_ring_hash.h"
#include "upstream/lb_round_robin.h"

namespace skiff::upstream {

std::unique_ptr<LoadBalancer> createLoadBalancer(const config::v1::Cluster& cluster,
                                                 HostVector hosts, Random& random) {
  switch (cluster.lb_policy()) {
    case config::v1::Cluster::LEAST_REQUEST:
      return std::make_unique<LeastRequestLoadBalancer>(std::move(hosts), random);
    case config::v1::Cluster::RANDOM:
      return std::make_unique<RandomLoadBalancer>(std::move(hosts), random);
    case config::v1::Cluster::RING_HASH:
      return std::make_unique<RingHashLoadBalancer>(
          std::move(hosts), cluster.ring_hash_lb_config().minimum_ring_size(), random);
    case config::v1::Cluster::ROUND_ROBIN:
    default:
      // Unknown values (a newer control plane) degrade to the default policy.
      return std::make_unique<RoundRobinLoadBalancer>(std::move(hosts), random);
  }
}

}  // namespace skiff::upstream
