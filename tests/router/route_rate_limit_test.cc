// LocalRateLimit::create (route.local_rate_limit, http.local_rate_limit, the mesh's rate_limit):
// defaults, and errors that name the field.

#include "router/route_rate_limit.h"

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "route_test_util.h"
#include "router/route_table.h"

namespace skiff::router {
namespace {

using std::chrono::milliseconds;

config::v1::LocalRateLimit parseLimit(const std::string& text) {
  config::v1::LocalRateLimit limit;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &limit)) << text;
  return limit;
}

std::string createError(const std::string& text) {
  auto limit = LocalRateLimit::create(parseLimit(text), "x.local_rate_limit");
  if (limit.ok()) return "<ok>";
  EXPECT_EQ(limit.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(limit.status().message());
}

TEST(LocalRateLimitTest, TokensPerFillDefaultsToOne) {
  auto limit = LocalRateLimit::create(parseLimit("max_tokens: 5 fill_interval { seconds: 2 }"),
                                      "l");
  ASSERT_TRUE(limit.ok()) << limit.status();
  EXPECT_EQ((*limit)->bucket().maxTokens(), 5u);
  EXPECT_EQ((*limit)->bucket().tokensPerFill(), 1u);
  EXPECT_EQ((*limit)->bucket().fillInterval(), std::chrono::seconds(2));
  EXPECT_FALSE((*limit)->shadow());
}

TEST(LocalRateLimitTest, KeepsItsSettings) {
  auto limit = LocalRateLimit::create(
      parseLimit("max_tokens: 50 tokens_per_fill { value: 10 } fill_interval { nanos: 250000000 } "
                 "shadow: true"),
      "l");
  ASSERT_TRUE(limit.ok()) << limit.status();
  EXPECT_EQ((*limit)->bucket().tokensPerFill(), 10u);
  EXPECT_EQ((*limit)->bucket().fillInterval(), milliseconds(250));
  EXPECT_TRUE((*limit)->shadow());
}

TEST(LocalRateLimitTest, ErrorsNameTheField) {
  EXPECT_EQ(createError("fill_interval { seconds: 1 }"),
            "x.local_rate_limit.max_tokens: required (at least 1: the burst allowed)");
  EXPECT_EQ(createError("max_tokens: 1 tokens_per_fill { value: 0 } fill_interval { seconds: 1 }"),
            "x.local_rate_limit.tokens_per_fill: must be at least 1");
  EXPECT_EQ(createError("max_tokens: 1"),
            "x.local_rate_limit.fill_interval: required (e.g. \"1s\": tokens_per_fill are added "
            "every fill_interval)");
  EXPECT_EQ(createError("max_tokens: 1 fill_interval { seconds: -1 }"),
            "x.local_rate_limit.fill_interval: must not be negative");
  EXPECT_EQ(createError("max_tokens: 1 fill_interval { nanos: 999999 }"),
            "x.local_rate_limit.fill_interval: must be at least 1ms");
  EXPECT_EQ(createError("max_tokens: 1 fill_interval { seconds: 315576000000 }"),
            "x.local_rate_limit.fill_interval: must be at most 31622400s");
  EXPECT_EQ(createError("max_tokens: 1 fill_interval { nanos: 1000000 }"), "<ok>");
}

TEST(LocalRateLimitTest, ARouteCarriesItsLimitAndTheTableNamesItsPath) {
  auto table = testing::makeTable(
      "virtual_hosts { domains: '*' "
      "  routes { name: 'limited' match { prefix: '/a' } route { cluster: 'c' } "
      "           local_rate_limit { max_tokens: 3 fill_interval { seconds: 1 } } } "
      "  routes { name: 'free' match { prefix: '/' } route { cluster: 'c' } } }");
  ASSERT_NE(table, nullptr);
  const RouteEntry* limited = table->match(testing::request("x", "/a"));
  const RouteEntry* free = table->match(testing::request("x", "/b"));
  ASSERT_NE(limited, nullptr);
  ASSERT_NE(free, nullptr);
  ASSERT_NE(limited->rateLimit(), nullptr);
  EXPECT_EQ(limited->rateLimit()->bucket().maxTokens(), 3u);
  EXPECT_EQ(free->rateLimit(), nullptr);

  auto bad = RouteTable::create(testing::parseConfig(
      "virtual_hosts { domains: '*' routes { match { prefix: '/' } route { cluster: 'c' } "
      "local_rate_limit { fill_interval { seconds: 1 } } } }"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "virtual_hosts[0].routes[0].local_rate_limit.max_tokens: required (at least 1: the "
            "burst allowed)");
}

}  // namespace
}  // namespace skiff::router
