// Policy selection, empty host sets, and the weighted distribution every policy must honour.

#include "upstream/load_balancer.h"

#include "lb_test_util.h"
#include "upstream/lb_least_request.h"
#include "upstream/lb_random.h"
#include "upstream/lb_ring_hash.h"
#include "upstream/lb_round_robin.h"

namespace skiff::upstream {
namespace {

using testing::clusterWithPolicy;
using testing::countPicks;
using testing::makeEqualHosts;
using testing::makeHosts;

const config::v1::Cluster::LbPolicy kPolicies[] = {
    config::v1::Cluster::ROUND_ROBIN, config::v1::Cluster::LEAST_REQUEST,
    config::v1::Cluster::RANDOM, config::v1::Cluster::RING_HASH};

TEST(LoadBalancerTest, FactoryPicksPolicy) {
  FastRandom random(1);
  auto rr = createLoadBalancer(clusterWithPolicy(config::v1::Cluster::ROUND_ROBIN),
                               makeEqualHosts(2), random);
  EXPECT_NE(dynamic_cast<RoundRobinLoadBalancer*>(rr.get()), nullptr);
  auto lr = createLoadBalancer(clusterWithPolicy(config::v1::Cluster::LEAST_REQUEST),
                               makeEqualHosts(2), random);
  EXPECT_NE(dynamic_cast<LeastRequestLoadBalancer*>(lr.get()), nullptr);
  auto rnd =
      createLoadBalancer(clusterWithPolicy(config::v1::Cluster::RANDOM), makeEqualHosts(2), random);
  EXPECT_NE(dynamic_cast<RandomLoadBalancer*>(rnd.get()), nullptr);
  config::v1::Cluster ring_cluster = clusterWithPolicy(config::v1::Cluster::RING_HASH);
  ring_cluster.mutable_ring_hash_lb_config()->set_minimum_ring_size(4096);
  auto ring = createLoadBalancer(ring_cluster, makeEqualHosts(2), random);
  auto* ring_lb = dynamic_cast<RingHashLoadBalancer*>(ring.get());
  ASSERT_NE(ring_lb, nullptr);
  EXPECT_GE(ring_lb->ringSize(), 4096u);
}

TEST(LoadBalancerTest, EmptyHostsGiveNull) {
  FastRandom random(1);
  for (auto policy : kPolicies) {
    auto lb = createLoadBalancer(clusterWithPolicy(policy), {}, random);
    EXPECT_EQ(lb->chooseHost({}), nullptr) << policy;
    EXPECT_EQ(lb->chooseHost(LbContext{42}), nullptr) << policy;
  }
}

TEST(LoadBalancerTest, SingleHost) {
  FastRandom random(1);
  HostVector hosts = makeEqualHosts(1);
  for (auto policy : kPolicies) {
    auto lb = createLoadBalancer(clusterWithPolicy(policy), hosts, random);
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ(lb->chooseHost(LbContext{static_cast<uint64_t>(i) * 7919}), hosts[0]) << policy;
    }
  }
}

// Every policy, picking with no hash key and no load, follows the weights: 1:3 gives
// 25% / 75% within 2 points over 100k picks.
TEST(LoadBalancerTest, WeightedDistributionForEveryPolicy) {
  for (auto policy : kPolicies) {
    FastRandom random(7);
    config::v1::Cluster cluster = clusterWithPolicy(policy);
    // A large ring keeps each host's share of the ring close to its weight.
    cluster.mutable_ring_hash_lb_config()->set_minimum_ring_size(65536);
    auto lb = createLoadBalancer(cluster, makeHosts({1, 3}), random);
    constexpr int kPicks = 100000;
    auto counts = countPicks(*lb, kPicks);
    EXPECT_NEAR(counts["10.0.0.1:80"] / double(kPicks), 0.25, 0.02) << policy;
    EXPECT_NEAR(counts["10.0.0.2:80"] / double(kPicks), 0.75, 0.02) << policy;
  }
}

TEST(LoadBalancerTest, EqualDistributionForEveryPolicy) {
  for (auto policy : kPolicies) {
    FastRandom random(11);
    config::v1::Cluster cluster = clusterWithPolicy(policy);
    cluster.mutable_ring_hash_lb_config()->set_minimum_ring_size(65536);
    auto lb = createLoadBalancer(cluster, makeEqualHosts(5), random);
    constexpr int kPicks = 100000;
    auto counts = countPicks(*lb, kPicks);
    ASSERT_EQ(counts.size(), 5u) << policy;
    for (const auto& [address, count] : counts) {
      EXPECT_NEAR(count / double(kPicks), 0.2, 0.02) << policy << " " << address;
    }
  }
}

// A Host built by hand (not through makeHost) may carry weight 0: it counts as 1.
TEST(LoadBalancerTest, ZeroWeightCountsAsOne) {
  HostVector hosts = makeEqualHosts(2);
  auto zero = std::make_shared<Host>();
  zero->address = "10.0.0.9:80";
  zero->weight = 0;
  hosts.push_back(zero);
  for (auto policy : kPolicies) {
    FastRandom random(3);
    config::v1::Cluster cluster = clusterWithPolicy(policy);
    cluster.mutable_ring_hash_lb_config()->set_minimum_ring_size(65536);
    auto lb = createLoadBalancer(cluster, hosts, random);
    constexpr int kPicks = 60000;
    auto counts = countPicks(*lb, kPicks);
    EXPECT_NEAR(counts["10.0.0.9:80"] / double(kPicks), 1.0 / 3, 0.02) << policy;
  }
}

}  // namespace
}  // namespace skiff::upstream
