// What a matched route does: cluster choice, timeouts, rewrites, header mutations, hash keys.

#include <map>

#include "common/hash.h"
#include "common/random.h"
#include "route_test_util.h"
#include "router/route_table.h"

namespace skiff::router {
namespace {

using testing::makeTable;
using testing::request;

// A table with one virtual host ("*") holding `route` (the body of a Route) plus any extra
// virtual host fields.
class RouteEntryTest : public ::testing::Test {
 protected:
  const RouteEntry* entry(const std::string& route, const std::string& vhost_extra = "") {
    table_ = makeTable("virtual_hosts { name: 'vh' domains: '*' " + vhost_extra +
                       " routes { name: 'r' " + route + " } }");
    if (table_ == nullptr) return nullptr;
    const RouteEntry* matched = table_->match(request("h", "/api/v1/items?x=1"));
    EXPECT_NE(matched, nullptr);
    return matched;
  }
  std::shared_ptr<const RouteTable> table_;
};

TEST_F(RouteEntryTest, SingleClusterIsWeightOne) {
  const RouteEntry* route = entry("match { prefix: '/' } route { cluster: 'backend' }");
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->name(), "r");
  ASSERT_EQ(route->clusters().size(), 1u);
  EXPECT_EQ(route->clusters()[0].name, "backend");
  EXPECT_EQ(route->clusters()[0].weight, 1u);
  EXPECT_EQ(route->pickCluster(0), "backend");
  EXPECT_EQ(route->pickCluster(~0ULL), "backend");
}

TEST_F(RouteEntryTest, WeightedClustersByCumulativeWeight) {
  const RouteEntry* route = entry(R"(match { prefix: '/' } route { weighted_clusters {
      clusters { name: 'a' weight: 1 } clusters { name: 'b' weight: 2 }
      clusters { name: 'zero' weight: 0 } clusters { name: 'c' weight: 7 } } })");
  ASSERT_NE(route, nullptr);
  ASSERT_EQ(route->clusters().size(), 4u);
  // Cumulative boundaries [0,1) a, [1,3) b, [3,10) c.
  EXPECT_EQ(route->pickCluster(0), "a");
  EXPECT_EQ(route->pickCluster(1), "b");
  EXPECT_EQ(route->pickCluster(2), "b");
  EXPECT_EQ(route->pickCluster(3), "c");
  EXPECT_EQ(route->pickCluster(9), "c");
  EXPECT_EQ(route->pickCluster(10), "a");

  FastRandom random(12345);
  std::map<std::string, int> counts;
  constexpr int kPicks = 100000;
  for (int i = 0; i < kPicks; ++i) ++counts[route->pickCluster(random.next())];
  EXPECT_EQ(counts.count("zero"), 0u);
  const std::map<std::string, double> expected = {{"a", 0.1}, {"b", 0.2}, {"c", 0.7}};
  double chi_square = 0;
  for (const auto& [name, share] : expected) {
    const double want = share * kPicks;
    chi_square += (counts[name] - want) * (counts[name] - want) / want;
  }
  // Two degrees of freedom; 13.8 is the p = 0.001 critical value.
  EXPECT_LT(chi_square, 13.8) << "a=" << counts["a"] << " b=" << counts["b"]
                              << " c=" << counts["c"];
}

TEST_F(RouteEntryTest, TimeoutDefaults) {
  const RouteEntry* route = entry("match { prefix: '/' } route { cluster: 'c' }");
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->timeout(), std::chrono::seconds(15));
  EXPECT_EQ(route->idleTimeout(), std::chrono::milliseconds(0));
}

TEST_F(RouteEntryTest, ExplicitTimeouts) {
  const RouteEntry* route = entry(
      "match { prefix: '/' } route { cluster: 'c' timeout { seconds: 2 nanos: 500000000 } "
      "idle_timeout { seconds: 30 } }");
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->timeout(), std::chrono::milliseconds(2500));
  EXPECT_EQ(route->idleTimeout(), std::chrono::seconds(30));
}

TEST_F(RouteEntryTest, ZeroTimeoutMeansNone) {
  const RouteEntry* route = entry("match { prefix: '/' } route { cluster: 'c' timeout { } }");
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->timeout(), std::chrono::milliseconds(0));
}

TEST_F(RouteEntryTest, SubMillisecondTimeoutIsNotNone) {
  const RouteEntry* route =
      entry("match { prefix: '/' } route { cluster: 'c' timeout { nanos: 1000 } }");
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->timeout(), std::chrono::milliseconds(1));
}

TEST_F(RouteEntryTest, PrefixRewriteKeepsQuery) {
  const RouteEntry* route =
      entry("match { prefix: '/api/v1' } route { cluster: 'c' prefix_rewrite: '/v2' }");
  ASSERT_NE(route, nullptr);
  http::RequestHead head = request("h", "/api/v1/items?x=1");
  route->finalizeRequest(head);
  EXPECT_EQ(head.path, "/v2/items?x=1");
  EXPECT_EQ(head.authority, "h");
}

TEST_F(RouteEntryTest, PrefixRewriteToRoot) {
  const RouteEntry* route =
      entry("match { prefix: '/api/' } route { cluster: 'c' prefix_rewrite: '/' }");
  ASSERT_NE(route, nullptr);
  http::RequestHead head = request("h", "/api/v1/items?x=1");
  route->finalizeRequest(head);
  EXPECT_EQ(head.path, "/v1/items?x=1");
}

TEST_F(RouteEntryTest, ExactPathRewrite) {
  const RouteEntry* route =
      entry("match { path: '/api/v1/items' } route { cluster: 'c' prefix_rewrite: '/items' }");
  ASSERT_NE(route, nullptr);
  http::RequestHead head = request("h", "/api/v1/items?x=1");
  route->finalizeRequest(head);
  EXPECT_EQ(head.path, "/items?x=1");
}

TEST_F(RouteEntryTest, HostRewrite) {
  const RouteEntry* route =
      entry("match { prefix: '/' } route { cluster: 'c' host_rewrite_literal: 'internal' }");
  ASSERT_NE(route, nullptr);
  http::RequestHead head = request("public.example.com", "/api/v1/items?x=1");
  route->finalizeRequest(head);
  EXPECT_EQ(head.authority, "internal");
  EXPECT_EQ(head.path, "/api/v1/items?x=1");
}

TEST_F(RouteEntryTest, RequestHeaderMutations) {
  const RouteEntry* route = entry(
      R"(match { prefix: '/' } route { cluster: 'c' }
         request_headers_to_remove: 'X-Internal'
         request_headers_to_add { key: 'X-Route' value: 'r' }
         request_headers_to_add { key: 'x-replaced' value: 'route' }
         request_headers_to_add { key: 'x-multi' value: 'route' append: true })",
      R"(request_headers_to_remove: 'x-secret'
         request_headers_to_remove: 'x-route'
         request_headers_to_add { key: 'x-replaced' value: 'vhost' }
         request_headers_to_add { key: 'x-multi' value: 'vhost' append: true }
         request_headers_to_add { key: 'x-vh' value: 'yes' })");
  ASSERT_NE(route, nullptr);
  http::RequestHead head = request("h", "/");
  head.headers.add("x-internal", "1");
  head.headers.add("x-secret", "2");
  head.headers.add("x-replaced", "client");
  head.headers.add("x-replaced", "client2");
  head.headers.add("x-multi", "client");
  head.headers.add("x-keep", "3");
  route->finalizeRequest(head);

  EXPECT_FALSE(head.headers.has("x-internal"));
  EXPECT_FALSE(head.headers.has("x-secret"));
  // The virtual host removes x-route, but removals happen before any addition.
  ASSERT_NE(head.headers.get("x-route"), nullptr);
  EXPECT_EQ(*head.headers.get("x-route"), "r");
  // append=false replaces; the virtual host's addition comes after the route's.
  EXPECT_EQ(head.headers.count("x-replaced"), 1u);
  EXPECT_EQ(*head.headers.get("x-replaced"), "vhost");
  // append=true adds.
  std::vector<std::string> multi;
  for (const auto& [name, value] : head.headers.entries()) {
    if (name == "x-multi") multi.push_back(value);
  }
  EXPECT_EQ(multi, (std::vector<std::string>{"client", "route", "vhost"}));
  EXPECT_EQ(*head.headers.get("x-vh"), "yes");
  EXPECT_EQ(*head.headers.get("x-keep"), "3");
}

TEST_F(RouteEntryTest, ResponseHeaderMutations) {
  const RouteEntry* route = entry(
      R"(match { prefix: '/' } route { cluster: 'c' }
         response_headers_to_remove: 'server'
         response_headers_to_add { key: 'x-served-by' value: 'route' })",
      R"(response_headers_to_remove: 'x-powered-by'
         response_headers_to_add { key: 'x-served-by' value: 'vhost' append: true }
         response_headers_to_add { key: 'cache-control' value: 'no-store' })");
  ASSERT_NE(route, nullptr);
  http::ResponseHead head;
  head.headers.add("server", "nginx");
  head.headers.add("x-powered-by", "php");
  head.headers.add("cache-control", "max-age=60");
  route->finalizeResponse(head);
  EXPECT_FALSE(head.headers.has("server"));
  EXPECT_FALSE(head.headers.has("x-powered-by"));
  EXPECT_EQ(head.headers.count("x-served-by"), 2u);
  EXPECT_EQ(*head.headers.get("x-served-by"), "route");
  EXPECT_EQ(head.headers.count("cache-control"), 1u);
  EXPECT_EQ(*head.headers.get("cache-control"), "no-store");
}

TEST_F(RouteEntryTest, HashKeyUsesFirstPresentPolicyHeader) {
  const RouteEntry* route = entry(
      R"(match { prefix: '/' } route { cluster: 'c'
           hash_policy { header_name: 'X-User' } hash_policy { header_name: 'x-session' } })");
  ASSERT_NE(route, nullptr);
  http::RequestHead head = request("h", "/");
  EXPECT_FALSE(route->hashKey(head).has_value());
  head.headers.add("x-session", "s1");
  EXPECT_EQ(route->hashKey(head), hash64("s1"));
  head.headers.add("x-user", "alice");
  EXPECT_EQ(route->hashKey(head), hash64("alice"));
  http::RequestHead other = request("h", "/other");
  other.headers.add("x-user", "alice");
  EXPECT_EQ(route->hashKey(other), route->hashKey(head));
}

TEST_F(RouteEntryTest, HashKeyOnAuthority) {
  const RouteEntry* route =
      entry("match { prefix: '/' } route { cluster: 'c' hash_policy { header_name: 'host' } }");
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->hashKey(request("api.local", "/")), hash64("api.local"));
}

TEST_F(RouteEntryTest, NoHashPolicyNoKey) {
  const RouteEntry* route = entry("match { prefix: '/' } route { cluster: 'c' }");
  ASSERT_NE(route, nullptr);
  http::RequestHead head = request("h", "/");
  head.headers.add("x-user", "alice");
  EXPECT_FALSE(route->hashKey(head).has_value());
}

}  // namespace
}  // namespace skiff::router
