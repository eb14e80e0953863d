#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "upstream/host.h"
#include "upstream/load_balancer.h"

namespace skiff::upstream::testing {

// Hosts 10.0.0.1:80, 10.0.0.2:80, ... with the given weights.
inline HostVector makeHosts(const std::vector<uint32_t>& weights) {
  HostVector hosts;
  for (size_t i = 0; i < weights.size(); ++i) {
    auto host = makeHost(absl::StrCat("10.0.", (i + 1) / 256, ".", (i + 1) % 256), 80, weights[i]);
    EXPECT_TRUE(host.ok());
    hosts.push_back(*host);
  }
  return hosts;
}

inline HostVector makeEqualHosts(size_t count) {
  return makeHosts(std::vector<uint32_t>(count, 1));
}

inline config::v1::Cluster clusterWithPolicy(config::v1::Cluster::LbPolicy policy) {
  config::v1::Cluster cluster;
  cluster.set_name("c");
  cluster.set_lb_policy(policy);
  return cluster;
}

// Picks per host address.
inline std::map<std::string, int> countPicks(LoadBalancer& lb, int picks,
                                             const LbContext& context = {}) {
  std::map<std::string, int> counts;
  for (int i = 0; i < picks; ++i) {
    HostSharedPtr host = lb.chooseHost(context);
    EXPECT_NE(host, nullptr);
    if (host != nullptr) ++counts[host->address];
  }
  return counts;
}

}  // namespace skiff::upstream::testing
