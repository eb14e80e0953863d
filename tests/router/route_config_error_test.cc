// RouteTable::create rejects bad configuration with the path of the offending field.

#include "absl/strings/match.h"
#include "route_test_util.h"
#include "router/route_table.h"

namespace skiff::router {
namespace {

using testing::parseConfig;

std::string createError(const std::string& text) {
  auto table = RouteTable::create(parseConfig(text));
  if (table.ok()) return "<ok>";
  EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(table.status().message());
}

constexpr char kGoodRoute[] = "routes { match { prefix: '/' } route { cluster: 'c' } } ";

TEST(RouteConfigErrorTest, EmptyConfigIsValid) {
  auto table = RouteTable::create(config::v1::RouteConfiguration());
  ASSERT_TRUE(table.ok());
  http::RequestHead head;
  head.path = "/";
  EXPECT_EQ((*table)->match(head), nullptr);
}

TEST(RouteConfigErrorTest, InvalidPathRegexNamesTheField) {
  const std::string error =
      createError(std::string("virtual_hosts { domains: '*' ") + kGoodRoute +
                  "routes { match { safe_regex: '/users/(' } route { cluster: 'c' } } }");
  EXPECT_TRUE(
      absl::StartsWith(error, "virtual_hosts[0].routes[1].match.safe_regex: invalid regex: "))
      << error;
}

TEST(RouteConfigErrorTest, InvalidHeaderRegex) {
  const std::string error = createError(
      "virtual_hosts { domains: 'a' } virtual_hosts { domains: 'b' routes { match { prefix: '/' "
      "headers { name: 'x' } headers { name: 'y' safe_regex_match: '[' } } "
      "route { cluster: 'c' } } }");
  EXPECT_TRUE(absl::StartsWith(
      error, "virtual_hosts[1].routes[0].match.headers[1].safe_regex_match: invalid regex: "))
      << error;
}

TEST(RouteConfigErrorTest, InvalidQueryRegex) {
  const std::string error = createError(
      "virtual_hosts { domains: '*' routes { match { prefix: '/' "
      "query_parameters { name: 'q' safe_regex_match: '(?P<' } } route { cluster: 'c' } } }");
  EXPECT_TRUE(absl::StartsWith(
      error, "virtual_hosts[0].routes[0].match.query_parameters[0].safe_regex_match: invalid"))
      << error;
}

TEST(RouteConfigErrorTest, MissingCluster) {
  EXPECT_EQ(createError("virtual_hosts { domains: '*' routes { match { prefix: '/' } } }"),
            "virtual_hosts[0].routes[0].route: no cluster or weighted_clusters");
  EXPECT_EQ(createError("virtual_hosts { domains: '*' routes { route { cluster: '' } } }"),
            "virtual_hosts[0].routes[0].route.cluster: empty");
}

TEST(RouteConfigErrorTest, WeightedClustersNeedWeight) {
  EXPECT_EQ(createError("virtual_hosts { domains: '*' routes { route { weighted_clusters { "
                        "clusters { name: 'a' weight: 0 } } } } }"),
            "virtual_hosts[0].routes[0].route.weighted_clusters: no cluster with a positive "
            "weight");
  EXPECT_EQ(createError("virtual_hosts { domains: '*' routes { route { weighted_clusters { "
                        "clusters { name: 'a' weight: 1 } clusters { weight: 1 } } } } }"),
            "virtual_hosts[0].routes[0].route.weighted_clusters.clusters[1].name: empty");
}

TEST(RouteConfigErrorTest, Domains) {
  EXPECT_EQ(createError(std::string("virtual_hosts { domains: 'a.com' ") + kGoodRoute +
                        "} virtual_hosts { domains: 'b.com' domains: 'A.com' " + kGoodRoute + "}"),
            "virtual_hosts[1].domains[1]: duplicate domain 'a.com'");
  EXPECT_TRUE(absl::StartsWith(
      createError(std::string("virtual_hosts { domains: 'a.*.com' ") + kGoodRoute + "}"),
      "virtual_hosts[0].domains[0]: 'a.*.com': a wildcard"));
  EXPECT_TRUE(absl::StartsWith(
      createError(std::string("virtual_hosts { domains: '*.a.*' ") + kGoodRoute + "}"),
      "virtual_hosts[0].domains[0]:"));
  EXPECT_EQ(createError(std::string("virtual_hosts { ") + kGoodRoute + "}"),
            "virtual_hosts[0].domains: empty");
}

TEST(RouteConfigErrorTest, HeaderMutationsCannotTouchHost) {
  EXPECT_TRUE(absl::StartsWith(
      createError("virtual_hosts { domains: '*' routes { route { cluster: 'c' } "
                  "request_headers_to_add { key: 'x' value: '1' } "
                  "request_headers_to_add { key: 'Host' value: 'evil' } } }"),
      "virtual_hosts[0].routes[0].request_headers_to_add[1].key: cannot modify 'host'"));
  EXPECT_TRUE(absl::StartsWith(
      createError("virtual_hosts { domains: '*' response_headers_to_remove: ':status' " +
                  std::string(kGoodRoute) + "}"),
      "virtual_hosts[0].response_headers_to_remove[0]: cannot modify ':status'"));
}

TEST(RouteConfigErrorTest, NegativeTimeout) {
  EXPECT_EQ(createError("virtual_hosts { domains: '*' routes { route { cluster: 'c' "
                        "timeout { seconds: -1 } } } }"),
            "virtual_hosts[0].routes[0].route.timeout: negative duration");
}

TEST(RouteConfigErrorTest, PrefixRewriteNeedsPrefixOrPath) {
  EXPECT_TRUE(absl::StartsWith(
      createError("virtual_hosts { domains: '*' routes { match { safe_regex: '/.*' } "
                  "route { cluster: 'c' prefix_rewrite: '/x' } } }"),
      "virtual_hosts[0].routes[0].route.prefix_rewrite:"));
}

TEST(RouteConfigErrorTest, EmptyNames) {
  EXPECT_EQ(createError("virtual_hosts { domains: '*' routes { match { headers { } } "
                        "route { cluster: 'c' } } }"),
            "virtual_hosts[0].routes[0].match.headers[0].name: empty");
  EXPECT_EQ(createError("virtual_hosts { domains: '*' routes { route { cluster: 'c' "
                        "hash_policy { } } } }"),
            "virtual_hosts[0].routes[0].route.hash_policy[0].header_name: empty");
}

}  // namespace
}  // namespace skiff::router
