#include "upstream/lb_ring_hash.h"

#include <algorithm>

#include "common/hash.h"
#include "lb_test_util.h"

namespace skiff::upstream {
namespace {

using testing::countPicks;
using testing::makeEqualHosts;
using testing::makeHosts;

constexpr int kKeys = 20000;

// The address each of kKeys keys maps to.
std::vector<std::string> mapKeys(RingHashLoadBalancer& lb) {
  std::vector<std::string> owners;
  for (int i = 0; i < kKeys; ++i) {
    owners.push_back(lb.chooseHost(LbContext{hash64("user-" + std::to_string(i))})->address);
  }
  return owners;
}

TEST(RingHashTest, RingSizeFollowsConfigAndWeights) {
  FastRandom random(1);
  RingHashLoadBalancer by_default(makeEqualHosts(3), 0, random);
  EXPECT_GE(by_default.ringSize(), RingHashLoadBalancer::kDefaultMinimumRingSize);
  EXPECT_LE(by_default.ringSize(), 2 * RingHashLoadBalancer::kDefaultMinimumRingSize);
  RingHashLoadBalancer weighted(makeHosts({1, 3}), 1024, random);
  EXPECT_EQ(weighted.ringSize(), 1024u);  // 256 + 768 points
  RingHashLoadBalancer many(makeEqualHosts(300), 100, random);
  EXPECT_GE(many.ringSize(), 300u);  // at least one point per host
}

TEST(RingHashTest, HugeWeightsAreScaledToTheRing) {
  FastRandom random(1);
  RingHashLoadBalancer lb(makeHosts({1000000, 3000000}), 4096, random);
  EXPECT_GE(lb.ringSize(), 4096u);
  EXPECT_LE(lb.ringSize(), 4098u);
  auto counts = countPicks(lb, 50000);
  EXPECT_NEAR(counts["10.0.0.2:80"] / 50000.0, 0.75, 0.05);
}

TEST(RingHashTest, SameKeySameHost) {
  FastRandom random(2);
  RingHashLoadBalancer lb(makeEqualHosts(5), 0, random);
  const LbContext context{hash64("session-42")};
  HostSharedPtr first = lb.chooseHost(context);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(lb.chooseHost(context), first);
}

TEST(RingHashTest, StableAcrossInstancesAndHostOrder) {
  // Two proxies: different Host objects, different order, different random generators.
  FastRandom random_a(3);
  FastRandom random_b(4);
  HostVector hosts_a = makeEqualHosts(8);
  HostVector hosts_b = makeEqualHosts(8);
  std::reverse(hosts_b.begin(), hosts_b.end());
  std::rotate(hosts_b.begin(), hosts_b.begin() + 3, hosts_b.end());
  RingHashLoadBalancer a(hosts_a, 0, random_a);
  RingHashLoadBalancer b(hosts_b, 0, random_b);
  EXPECT_EQ(mapKeys(a), mapKeys(b));
}

TEST(RingHashTest, RemovingAHostMovesOnlyItsKeys) {
  FastRandom random(5);
  HostVector hosts = makeEqualHosts(10);
  RingHashLoadBalancer before(hosts, 0, random);
  const std::string removed = hosts[3]->address;
  hosts.erase(hosts.begin() + 3);
  RingHashLoadBalancer after(hosts, 0, random);

  const auto owners_before = mapKeys(before);
  const auto owners_after = mapKeys(after);
  int moved = 0;
  for (int i = 0; i < kKeys; ++i) {
    if (owners_before[i] == removed) {
      EXPECT_NE(owners_after[i], removed);
      ++moved;
    } else {
      EXPECT_EQ(owners_after[i], owners_before[i]) << "key " << i;
    }
  }
  // About 1/N of the keys.
  EXPECT_NEAR(moved / double(kKeys), 0.1, 0.05);
}

TEST(RingHashTest, AddingAHostTakesKeysOnlyForItself) {
  FastRandom random(6);
  HostVector hosts = makeEqualHosts(9);
  RingHashLoadBalancer before(hosts, 0, random);
  auto extra = makeHost("10.0.1.1", 80, 1);
  ASSERT_TRUE(extra.ok());
  hosts.push_back(*extra);
  RingHashLoadBalancer after(hosts, 0, random);

  const auto owners_before = mapKeys(before);
  const auto owners_after = mapKeys(after);
  int moved = 0;
  for (int i = 0; i < kKeys; ++i) {
    if (owners_after[i] != owners_before[i]) {
      EXPECT_EQ(owners_after[i], "10.0.1.1:80");
      ++moved;
    }
  }
  EXPECT_NEAR(moved / double(kKeys), 0.1, 0.05);
}

TEST(RingHashTest, KeysSpreadOverHosts) {
  FastRandom random(7);
  RingHashLoadBalancer lb(makeEqualHosts(4), 0, random);
  std::map<std::string, int> counts;
  for (const auto& owner : mapKeys(lb)) ++counts[owner];
  ASSERT_EQ(counts.size(), 4u);
  for (const auto& [address, count] : counts) {
    EXPECT_NEAR(count / double(kKeys), 0.25, 0.06) << address;
  }
}

TEST(RingHashTest, NoKeyPicksRandomHosts) {
  FastRandom random(8);
  RingHashLoadBalancer lb(makeEqualHosts(4), 0, random);
  auto counts = countPicks(lb, 4000);
  EXPECT_EQ(counts.size(), 4u);
}

TEST(RingHashTest, KeyAboveEveryPointWrapsToTheFirst) {
  FastRandom random(9);
  RingHashLoadBalancer lb(makeEqualHosts(3), 0, random);
  EXPECT_EQ(lb.chooseHost(LbContext{~0ULL}), lb.chooseHost(LbContext{0}));
}

}  // namespace
}  // namespace skiff::upstream
