#pragma once

#include "upstream/lb_weights.h"
#include "upstream/load_balancer.h"

namespace skiff::upstream {

// Power of two choices. The two candidates are drawn by weight, and the one with the lower
// active_requests / weight wins; on a tie the first draw wins, so an idle cluster receives
// traffic in proportion to the weights rather than all of it going to the heaviest host.
class LeastRequestLoadBalancer : public LoadBalancer {
 public:
  LeastRequestLoadBalancer(HostVector hosts, Random& random);
  HostSharedPtr chooseHost(const LbContext& context) override;

 private:
  size_t secondCandidate(size_t first);

  HostVector hosts_;
  WeightedIndex weights_;
  Random& random_;
};

}  // namespace skiff::upstream
