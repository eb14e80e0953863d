#include "upstream/lb_round_robin.h"

#include <set>

#include "lb_test_util.h"

namespace skiff::upstream {
namespace {

using testing::countPicks;
using testing::makeEqualHosts;
using testing::makeHosts;

TEST(RoundRobinTest, EqualWeightsRotateStrictly) {
  FastRandom random(5);
  HostVector hosts = makeEqualHosts(4);
  RoundRobinLoadBalancer lb(hosts, random);
  std::vector<HostSharedPtr> picks;
  for (int i = 0; i < 40; ++i) picks.push_back(lb.chooseHost({}));
  // The first four are all different, then the same order repeats.
  EXPECT_EQ(std::set<HostSharedPtr>(picks.begin(), picks.begin() + 4).size(), 4u);
  for (size_t i = 4; i < picks.size(); ++i) EXPECT_EQ(picks[i], picks[i - 4]) << i;
  // And the order is the host order, from wherever it started.
  size_t start = std::find(hosts.begin(), hosts.end(), picks[0]) - hosts.begin();
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(picks[i], hosts[(start + i) % 4]);
}

TEST(RoundRobinTest, StartIsRandomizedPerInstance) {
  HostVector hosts = makeEqualHosts(4);
  std::set<HostSharedPtr> first_picks;
  for (uint64_t seed = 0; seed < 32; ++seed) {
    FastRandom random(seed);
    RoundRobinLoadBalancer lb(hosts, random);
    first_picks.insert(lb.chooseHost({}));
  }
  EXPECT_GT(first_picks.size(), 1u);
}

TEST(RoundRobinTest, WeightedSharesAreExactOverACycle) {
  FastRandom random(9);
  RoundRobinLoadBalancer lb(makeHosts({1, 2, 5}), random);
  // Eight picks per cycle; over 100 cycles each host gets its weight times 100, give or take
  // the partial cycle at each end.
  auto counts = countPicks(lb, 800);
  EXPECT_NEAR(counts["10.0.0.1:80"], 100, 1);
  EXPECT_NEAR(counts["10.0.0.2:80"], 200, 1);
  EXPECT_NEAR(counts["10.0.0.3:80"], 500, 1);
}

TEST(RoundRobinTest, WeightedPicksInterleave) {
  FastRandom random(13);
  HostVector hosts = makeHosts({1, 3});
  RoundRobinLoadBalancer lb(hosts, random);
  // Smooth: the light host comes once in every four picks, never in a burst.
  int since_light = 0;
  int light = 0;
  for (int i = 0; i < 400; ++i) {
    if (lb.chooseHost({}) == hosts[0]) {
      ++light;
      since_light = 0;
    } else {
      ++since_light;
      EXPECT_LE(since_light, 3) << i;
    }
  }
  EXPECT_NEAR(light, 100, 1);
}

TEST(RoundRobinTest, WeightedStartIsRandomizedPerInstance) {
  HostVector hosts = makeHosts({1, 1, 2});
  std::set<std::vector<HostSharedPtr>> sequences;
  for (uint64_t seed = 0; seed < 16; ++seed) {
    FastRandom random(seed);
    RoundRobinLoadBalancer lb(hosts, random);
    std::vector<HostSharedPtr> sequence;
    for (int i = 0; i < 4; ++i) sequence.push_back(lb.chooseHost({}));
    sequences.insert(sequence);
  }
  EXPECT_GT(sequences.size(), 1u);
}

}  // namespace
}  // namespace skiff::upstream
