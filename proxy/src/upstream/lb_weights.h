#pragma once

// Weight helpers shared by the load balancing policies.

#include <cstdint>
#include <vector>

#include "upstream/host.h"

namespace skiff::upstream {

// Host::weight with 0 read as 1, so a host built without a weight still gets traffic.
inline uint32_t effectiveWeight(const Host& host) { return host.weight == 0 ? 1 : host.weight; }

// Maps a uniformly random 64-bit value to a host index with probability proportional to its
// weight: a cumulative-weight table searched by bisection (O(log n)), or a plain modulo when
// every weight is equal, which is the common case.
class WeightedIndex {
 public:
  explicit WeightedIndex(const HostVector& hosts);

  // Requires at least one host.
  size_t pick(uint64_t random) const;
  bool uniform() const { return uniform_; }
  uint64_t totalWeight() const { return total_; }

 private:
  std::vector<uint64_t> cumulative_;  // cumulative_[i] = sum of weights of hosts 0..i
  uint64_t total_ = 0;
  bool uniform_ = true;
};

}  // namespace skiff::upstream
