#include "upstream/lb_random.h"

#include "lb_test_util.h"

namespace skiff::upstream {
namespace {

using testing::countPicks;
using testing::makeHosts;

TEST(RandomTest, FollowsWeights) {
  FastRandom random(31);
  RandomLoadBalancer lb(makeHosts({1, 2, 7}), random);
  constexpr int kPicks = 100000;
  auto counts = countPicks(lb, kPicks);
  EXPECT_NEAR(counts["10.0.0.1:80"] / double(kPicks), 0.1, 0.01);
  EXPECT_NEAR(counts["10.0.0.2:80"] / double(kPicks), 0.2, 0.01);
  EXPECT_NEAR(counts["10.0.0.3:80"] / double(kPicks), 0.7, 0.01);
}

TEST(RandomTest, SameSeedSameSequence) {
  HostVector hosts = makeHosts({1, 1, 1});
  FastRandom random_a(32);
  FastRandom random_b(32);
  RandomLoadBalancer a(hosts, random_a);
  RandomLoadBalancer b(hosts, random_b);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.chooseHost({}), b.chooseHost({}));
}

}  // namespace
}  // namespace skiff::upstream
