#pragma once

#include "upstream/lb_weights.h"
#include "upstream/load_balancer.h"

namespace skiff::upstream {

// Weighted random choice.
class RandomLoadBalancer : public LoadBalancer {
 public:
  RandomLoadBalancer(HostVector hosts, Random& random);
  HostSharedPtr chooseHost(const LbContext& context) override;

 private:
  HostVector hosts_;
  WeightedIndex weights_;
  Random& random_;
};

}  // namespace skiff::upstream
