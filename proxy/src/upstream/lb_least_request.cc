#include "upstream/lb_least_request.h"

namespace skiff::upstream {
namespace {

// Weighted draws for the second candidate may keep landing on the first when one host holds
// most of the weight; after this many tries fall back to a uniform draw among the others.
constexpr int kWeightedRetries = 4;

}  // namespace

LeastRequestLoadBalancer::LeastRequestLoadBalancer(HostVector hosts, Random& random)
    : hosts_(std::move(hosts)), weights_(hosts_), random_(random) {}

size_t LeastRequestLoadBalancer::secondCandidate(size_t first) {
  if (!weights_.uniform()) {
    for (int i = 0; i < kWeightedRetries; ++i) {
      const size_t candidate = weights_.pick(random_.next());
      if (candidate != first) return candidate;
    }
  }
  const size_t candidate = random_.nextBelow(hosts_.size() - 1);
  return candidate >= first ? candidate + 1 : candidate;
}

HostSharedPtr LeastRequestLoadBalancer::chooseHost(const LbContext& context) {
  if (hosts_.empty()) return nullptr;
  if (hosts_.size() == 1) return hosts_[0];
  const size_t first = weights_.pick(random_.next());
  const size_t second = secondCandidate(first);
  const Host& a = *hosts_[first];
  const Host& b = *hosts_[second];
  // active_b / weight_b < active_a / weight_a, without division.
  const uint64_t load_a = a.active_requests.load(std::memory_order_relaxed);
  const uint64_t load_b = b.active_requests.load(std::memory_order_relaxed);
  if (load_b * effectiveWeight(a) < load_a * effectiveWeight(b)) return hosts_[second];
  return hosts_[first];
}

}  // namespace skiff::upstream
