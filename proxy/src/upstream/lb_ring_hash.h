#pragma once

#include <cstdint>
#include <vector>

#include "upstream/load_balancer.h"

namespace skiff::upstream {

// Consistent hashing on a ketama-style ring. Each host owns weight-proportional points at
// hash64("<address>_<replica>"); a request goes to the owner of the first point at or after
// its hash key. The ring depends only on the set of addresses and weights (not on their order
// or on the process), so every proxy sends a key to the same host, and removing one host
// moves only the keys that host owned.
class RingHashLoadBalancer : public LoadBalancer {
 public:
  static constexpr uint64_t kDefaultMinimumRingSize = 1024;
  static constexpr uint64_t kMaximumRingSize = 8 * 1024 * 1024;

  // `minimum_ring_size` 0 means the default; larger than kMaximumRingSize is clamped.
  RingHashLoadBalancer(HostVector hosts, uint64_t minimum_ring_size, Random& random);
  HostSharedPtr chooseHost(const LbContext& context) override;

  // For tests and /clusters.
  size_t ringSize() const { return ring_.size(); }

 private:
  struct Point {
    uint64_t hash;
    uint32_t index;  // into hosts_
  };

  HostVector hosts_;
  std::vector<Point> ring_;  // sorted by hash
  Random& random_;
};

}  // namespace skiff::upstream
