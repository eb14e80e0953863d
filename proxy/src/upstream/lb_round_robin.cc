#include "upstream/lb_round_robin.h"

#include <algorithm>

#include "upstream/lb_weights.h"

namespace skiff::upstream {

RoundRobinLoadBalancer::RoundRobinLoadBalancer(HostVector hosts, Random& random)
    : hosts_(std::move(hosts)) {
  if (hosts_.empty()) return;
  for (const auto& host : hosts_) {
    if (effectiveWeight(*host) != effectiveWeight(*hosts_.front())) weighted_ = true;
  }
  if (!weighted_) {
    next_ = random.nextBelow(hosts_.size());
    return;
  }
  period_.reserve(hosts_.size());
  heap_.reserve(hosts_.size());
  for (uint32_t i = 0; i < hosts_.size(); ++i) {
    const double period = 1.0 / effectiveWeight(*hosts_[i]);
    period_.push_back(period);
    // A random phase within the host's first period: long-run shares stay exactly the
    // weights, but each instance walks the schedule from a different point.
    const double phase = static_cast<double>(random.next() >> 11) * 0x1.0p-53;
    heap_.push_back(Entry{period * phase, order_++, i});
  }
  std::make_heap(heap_.begin(), heap_.end(), Later());
}

HostSharedPtr RoundRobinLoadBalancer::chooseHost(const LbContext& context) {
  if (hosts_.empty()) return nullptr;
  if (!weighted_) {
    const size_t index = next_;
    next_ = next_ + 1 == hosts_.size() ? 0 : next_ + 1;
    return hosts_[index];
  }
  std::pop_heap(heap_.begin(), heap_.end(), Later());
  Entry& entry = heap_.back();
  const uint32_t index = entry.index;
  entry.deadline += period_[index];
  entry.order = order_++;
  std::push_heap(heap_.begin(), heap_.end(), Later());
  return hosts_[index];
}

}  // namespace skiff::upstream
