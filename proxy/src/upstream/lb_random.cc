#include "upstream/lb_random.h"

namespace skiff::upstream {

RandomLoadBalancer::RandomLoadBalancer(HostVector hosts, Random& random)
    : hosts_(std::move(hosts)), weights_(hosts_), random_(random) {}

HostSharedPtr RandomLoadBalancer::chooseHost(const LbContext& context) {
  if (hosts_.empty()) return nullptr;
  return hosts_[weights_.pick(random_.next())];
}

}  // namespace skiff::upstream
