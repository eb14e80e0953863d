#include "upstream/circuit_breakers.h"

#include <gtest/gtest.h>

namespace skiff::upstream {
namespace {

int64_t gaugeValue(const stats::Registry& registry, const std::string& resource) {
  // The remaining-headroom series as Prometheus renders it.
  std::string text = registry.renderPrometheus();
  std::string key = "skiff_upstream_circuit_breaker_remaining{cluster=\"backend\",resource=\"" +
                    resource + "\"} ";
  size_t at = text.find(key);
  if (at == std::string::npos) return -1;
  return std::stoll(text.substr(at + key.size()));
}

uint64_t overflowValue(const stats::Registry& registry, const std::string& resource) {
  std::string text = registry.renderPrometheus();
  std::string key =
      "skiff_upstream_overflow_total{cluster=\"backend\",resource=\"" + resource + "\"} ";
  size_t at = text.find(key);
  if (at == std::string::npos) return 0;
  return std::stoull(text.substr(at + key.size()));
}

TEST(CircuitBreakersTest, DefaultsFollowEnvoy) {
  stats::Registry registry(1);
  CircuitBreakers breakers(registry, "backend");
  EXPECT_EQ(breakers.connections.max(), 1024u);
  EXPECT_EQ(breakers.pending_requests.max(), 1024u);
  EXPECT_EQ(breakers.requests.max(), 1024u);
  EXPECT_EQ(breakers.retries.max(), ResourceLimit::kUnlimited);  // the retry budget limits them
  EXPECT_EQ(gaugeValue(registry, "requests"), 1024);
}

TEST(CircuitBreakersTest, RefusesAtTheLimitAndCountsTheOverflow) {
  stats::Registry registry(1);
  CircuitBreakers breakers(registry, "backend");
  config::v1::CircuitBreakers config;
  config.mutable_max_requests()->set_value(2);
  breakers.configure(config);

  EXPECT_TRUE(breakers.requests.tryAcquire());
  EXPECT_TRUE(breakers.requests.tryAcquire());
  EXPECT_EQ(gaugeValue(registry, "requests"), 0);
  EXPECT_FALSE(breakers.requests.tryAcquire());
  EXPECT_EQ(breakers.requests.count(), 2u);
  EXPECT_EQ(overflowValue(registry, "requests"), 1u);

  breakers.requests.release();
  EXPECT_EQ(gaugeValue(registry, "requests"), 1);
  EXPECT_TRUE(breakers.requests.tryAcquire());
}

TEST(CircuitBreakersTest, ANewLimitKeepsTheCountsAndMovesTheHeadroom) {
  stats::Registry registry(1);
  CircuitBreakers breakers(registry, "backend");
  config::v1::CircuitBreakers config;
  config.mutable_max_pending_requests()->set_value(3);
  breakers.configure(config);
  ASSERT_TRUE(breakers.pending_requests.tryAcquire());
  ASSERT_TRUE(breakers.pending_requests.tryAcquire());
  EXPECT_EQ(gaugeValue(registry, "pending_requests"), 1);

  config.mutable_max_pending_requests()->set_value(1);  // lowered below what is in use
  breakers.configure(config);
  EXPECT_EQ(breakers.pending_requests.count(), 2u);
  EXPECT_EQ(gaugeValue(registry, "pending_requests"), -1);
  EXPECT_FALSE(breakers.pending_requests.tryAcquire());
  breakers.pending_requests.release();
  breakers.pending_requests.release();
  EXPECT_TRUE(breakers.pending_requests.tryAcquire());
}

TEST(CircuitBreakersTest, AForcedUnitGoesOverTheLimit) {
  stats::Registry registry(1);
  CircuitBreakers breakers(registry, "backend");
  config::v1::CircuitBreakers config;
  config.mutable_max_connections()->set_value(1);
  breakers.configure(config);
  breakers.connections.acquire();
  breakers.connections.acquire();  // a second pool's first connection
  EXPECT_TRUE(breakers.connections.atLimit());
  EXPECT_FALSE(breakers.connections.tryAcquire());
  EXPECT_EQ(breakers.connections.count(), 2u);
}

TEST(CircuitBreakersTest, AHoldReleasesItsUnitAndThenCallsBack) {
  stats::Registry registry(1);
  CircuitBreakers breakers(registry, "backend");
  int released_at_count = -1;
  ASSERT_TRUE(breakers.connections.tryAcquire());
  {
    ResourceHold hold(breakers.connections,
                      [&] { released_at_count = static_cast<int>(breakers.connections.count()); });
    EXPECT_EQ(released_at_count, -1);
  }
  EXPECT_EQ(released_at_count, 0);  // the unit was back before the callback ran
}

}  // namespace
}  // namespace skiff::upstream
