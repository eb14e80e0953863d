#pragma once

#include <vector>

#include "upstream/load_balancer.h"

namespace skiff::upstream {

// Equal weights: a strict rotation. Unequal weights: earliest-deadline-first, where each pick
// of a host pushes its next deadline 1/weight further out; O(log n) per pick and the picks of
// different hosts interleave instead of arriving in bursts. Each instance starts at a random
// phase so that workers (one balancer each) do not hit the same host in lockstep.
class RoundRobinLoadBalancer : public LoadBalancer {
 public:
  RoundRobinLoadBalancer(HostVector hosts, Random& random);
  HostSharedPtr chooseHost(const LbContext& context) override;

 private:
  struct Entry {
    double deadline;
    uint64_t order;  // ties go to the entry scheduled first, which keeps the order stable
    uint32_t index;
  };
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.deadline != b.deadline ? a.deadline > b.deadline : a.order > b.order;
    }
  };

  HostVector hosts_;
  bool weighted_ = false;
  size_t next_ = 0;             // equal weights
  std::vector<Entry> heap_;     // unequal weights: a min-heap on (deadline, order)
  std::vector<double> period_;  // 1 / weight, per host
  uint64_t order_ = 0;
};

}  // namespace skiff::upstream
