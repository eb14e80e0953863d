#include "upstream/lb_least_request.h"

#include "lb_test_util.h"

namespace skiff::upstream {
namespace {

using testing::countPicks;
using testing::makeEqualHosts;
using testing::makeHosts;

TEST(LeastRequestTest, PrefersTheIdleHost) {
  FastRandom random(21);
  HostVector hosts = makeEqualHosts(2);
  hosts[0]->active_requests = 5;
  LeastRequestLoadBalancer lb(hosts, random);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(lb.chooseHost({}), hosts[1]);
}

TEST(LeastRequestTest, TheBusiestHostIsNeverChosen) {
  // With two distinct candidates, the busiest host always loses its comparison.
  FastRandom random(22);
  HostVector hosts = makeEqualHosts(4);
  hosts[0]->active_requests = 1;
  hosts[1]->active_requests = 2;
  hosts[2]->active_requests = 9;
  LeastRequestLoadBalancer lb(hosts, random);
  auto counts = countPicks(lb, 10000);
  EXPECT_EQ(counts.count(hosts[2]->address), 0u);
  // The idle host wins every comparison it is in: 3 of the 6 pairs.
  EXPECT_NEAR(counts[hosts[3]->address] / 10000.0, 0.5, 0.03);
  EXPECT_GT(counts[hosts[0]->address], 0);
  EXPECT_GT(counts[hosts[1]->address], 0);
}

TEST(LeastRequestTest, LoadIsComparedPerUnitOfWeight) {
  FastRandom random(23);
  HostVector hosts = makeHosts({1, 4});
  hosts[0]->active_requests = 1;  // 1 per unit of weight
  hosts[1]->active_requests = 2;  // 0.5 per unit of weight
  LeastRequestLoadBalancer lb(hosts, random);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(lb.chooseHost({}), hosts[1]);
  hosts[1]->active_requests = 8;  // 2 per unit of weight
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(lb.chooseHost({}), hosts[0]);
}

TEST(LeastRequestTest, FollowsLiveCounters) {
  FastRandom random(24);
  HostVector hosts = makeEqualHosts(2);
  LeastRequestLoadBalancer lb(hosts, random);
  // Simulates in-flight requests: each pick stays active, so picks alternate evenly.
  for (int i = 0; i < 100; ++i) lb.chooseHost({})->active_requests++;
  EXPECT_EQ(hosts[0]->active_requests.load(), 50u);
  EXPECT_EQ(hosts[1]->active_requests.load(), 50u);
}

}  // namespace
}  // namespace skiff::upstream
