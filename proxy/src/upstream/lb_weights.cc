#include "upstream/lb_weights.h"

#include <algorithm>

namespace skiff::upstream {

WeightedIndex::WeightedIndex(const HostVector& hosts) {
  cumulative_.reserve(hosts.size());
  for (const auto& host : hosts) {
    const uint32_t weight = effectiveWeight(*host);
    if (!cumulative_.empty() && weight != effectiveWeight(*hosts.front())) uniform_ = false;
    total_ += weight;
    cumulative_.push_back(total_);
  }
}

size_t WeightedIndex::pick(uint64_t random) const {
  if (uniform_) return random % cumulative_.size();
  const uint64_t target = random % total_;
  // The first host whose cumulative weight exceeds the target owns it.
  return std::upper_bound(cumulative_.begin(), cumulative_.end(), target) - cumulative_.begin();
}

}  // namespace skiff::upstream
