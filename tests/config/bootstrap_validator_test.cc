// Semantic validation: each broken configuration must be rejected with the exact path of the
// field at fault, and valid configurations (including unusual ones) must pass.

#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "config/bootstrap_loader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::config {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kDefaultClusters[] = R"(
    - { name: backend, endpoints: [{ address: { address: 127.0.0.1, port: 18080 } }] }
    - { name: other, endpoints: [{ address: { address: 127.0.0.1, port: 18081 } }] })";

// `listeners` and `clusters` are YAML sequence items indented by four spaces (or "[]").
std::string config(const std::string& listeners, const std::string& clusters = kDefaultClusters,
                   const std::string& top = "") {
  return absl::StrCat(top, "\nstatic_resources:\n  listeners: ", listeners,
                      "\n  clusters: ", clusters, "\n");
}

std::string tcpListener(const std::string& name, const std::string& address, int port,
                        const std::string& cluster = "backend") {
  return absl::StrCat("\n    - { name: \"", name, "\", address: { address: \"", address,
                      "\", port: ", port, " }, tcp_proxy: { cluster: \"", cluster, "\" } }");
}

// One HTTP listener; `virtual_hosts` and `http_extra` are flow-style YAML.
std::string httpConfig(const std::string& virtual_hosts, const std::string& http_extra = "") {
  return config(
      absl::StrCat("\n    - name: http\n      address: { address: 127.0.0.1, port: 10000 }"
                   "\n      http: { ",
                   http_extra, " route_config: { virtual_hosts: ", virtual_hosts, " } }"));
}

// One virtual host for "*" holding `route` (flow style), plus `vhost_extra` fields.
std::string routeConfig(const std::string& route, const std::string& vhost_extra = "") {
  return httpConfig(absl::StrCat("[{ name: default, domains: [\"*\"], ", vhost_extra, " routes: [",
                                 route, "] }]"));
}

std::string clusterConfig(const std::string& clusters) { return config("[]", clusters); }

constexpr char kListener0[] = "static_resources.listeners[0]";
constexpr char kVhosts[] = "static_resources.listeners[0].http.route_config.virtual_hosts";
constexpr char kRoute[] =
    "static_resources.listeners[0].http.route_config.virtual_hosts[0].routes[0]";
constexpr char kCluster0[] = "static_resources.clusters[0]";

struct BrokenCase {
  std::string name;
  std::string yaml;
  std::string expected_prefix;
};

void PrintTo(const BrokenCase& c, std::ostream* os) { *os << c.name; }

std::vector<BrokenCase> brokenCases() {
  const std::string r = kRoute;
  const std::string l = kListener0;
  const std::string v = kVhosts;
  const std::string c = kCluster0;
  const std::string ok_route = "{ match: { prefix: / }, route: { cluster: backend } }";
  return {
      // Bootstrap and admin.
      {"NegativeDrainTimeout", config("[]", kDefaultClusters, "drain_timeout: -1s"),
       "drain_timeout: must not be negative"},
      {"AdminHostName",
       config("[]", kDefaultClusters, "admin: { address: { address: localhost } }"),
       "admin.address.address: \"localhost\" is not an IP address"},
      {"AdminPortOutOfRange",
       config("[]", kDefaultClusters, "admin: { address: { address: 127.0.0.1, port: 65536 } }"),
       "admin.address.port: 65536 is out of range (0 to 65535)"},
      // Listeners.
      {"ListenerWithoutName", config(tcpListener("", "127.0.0.1", 1)), l + ".name: required"},
      {"DuplicateListenerName",
       config(tcpListener("a", "127.0.0.1", 1) + tcpListener("a", "127.0.0.1", 2)),
       "static_resources.listeners[1].name: duplicate listener name \"a\" (also " + l + ")"},
      {"ListenerWithoutAddress", config("[{ name: a, tcp_proxy: { cluster: backend } }]"),
       l + ".address: required"},
      {"ListenerHostName", config(tcpListener("a", "localhost", 1)),
       l + ".address.address: \"localhost\" is not an IP address"},
      {"ListenerBracketedIpv6", config(tcpListener("a", "[::1]", 1)),
       l + ".address.address: \"[::1]\" is not an IP address"},
      {"ListenerEmptyAddress",
       config("[{ name: a, address: { port: 1 }, tcp_proxy: { cluster: backend } }]"),
       l + ".address.address: required"},
      {"ListenerPortOutOfRange", config(tcpListener("a", "127.0.0.1", 65536)),
       l + ".address.port: 65536 is out of range (0 to 65535)"},
      {"ListenerWithoutHandler", config("[{ name: a, address: { address: 127.0.0.1, port: 1 } }]"),
       l + ": no handler (set one of \"http\" or \"tcp_proxy\")"},
      {"SameAddressTwice",
       config(tcpListener("a", "127.0.0.1", 10000) + tcpListener("b", "127.0.0.1", 10000)),
       "static_resources.listeners[1].address: 127.0.0.1:10000 is already used by " + l},
      {"SameIpv6AddressSpelledDifferently",
       config(tcpListener("a", "::1", 80) + tcpListener("b", "0:0:0:0:0:0:0:1", 80)),
       "static_resources.listeners[1].address: [0:0:0:0:0:0:0:1]:80 is already used by " + l},
      {"ListenerOnDefaultAdminAddress", config(tcpListener("a", "127.0.0.1", 15000)),
       l + ".address: 127.0.0.1:15000 is also the admin address"},
      {"ListenerOnConfiguredAdminAddress",
       config(tcpListener("a", "::1", 9901), kDefaultClusters,
              "admin: { address: { address: \"::1\", port: 9901 } }"),
       l + ".address: [::1]:9901 is also the admin address"},
      // TCP proxy.
      {"TcpUnknownCluster", config(tcpListener("a", "127.0.0.1", 1, "db")),
       l + ".tcp_proxy.cluster: unknown cluster \"db\""},
      {"TcpWithoutCluster", config(tcpListener("a", "127.0.0.1", 1, "")),
       l + ".tcp_proxy.cluster: required"},
      {"TcpNegativeIdleTimeout",
       config("[{ name: a, address: { address: 127.0.0.1, port: 1 }, tcp_proxy: { cluster: "
              "backend, idle_timeout: -0.5s } }]"),
       l + ".tcp_proxy.idle_timeout: must not be negative"},
      // HTTP connection manager and virtual hosts.
      {"HttpWithoutRouteConfig",
       config("[{ name: a, address: { address: 127.0.0.1, port: 1 }, http: {} }]"),
       v + ": at least one virtual host is required"},
      {"HttpNegativeIdleTimeout", httpConfig("[{ domains: [\"*\"] }]", "idle_timeout: -1s,"),
       l + ".http.idle_timeout: must not be negative"},
      {"ListenerRateLimitWithoutInterval",
       httpConfig("[{ domains: [\"*\"] }]", "local_rate_limit: { max_tokens: 10 },"),
       l + ".http.local_rate_limit.fill_interval: required"},
      {"ListenerRateLimitTooFast",
       httpConfig("[{ domains: [\"*\"] }]",
                  "local_rate_limit: { max_tokens: 10, fill_interval: 0.0001s },"),
       l + ".http.local_rate_limit.fill_interval: must be at least 1ms"},
      {"TracingRatioOutOfRange",
       httpConfig("[{ domains: [\"*\"] }]", "tracing: { sampling_ratio: 1.5 },"),
       l + ".http.tracing.sampling_ratio: 1.5 is out of range (0 to 1: 0.01 samples 1% of new "
           "traces, 1 all of them)"},
      {"TracingFormatTwice",
       httpConfig("[{ domains: [\"*\"] }]", "tracing: { accept: [B3, B3] },"),
       l + ".http.tracing.accept[1]: B3 is listed twice"},
      {"TracingBadForceHeader",
       httpConfig("[{ domains: [\"*\"] }]", "tracing: { force_sampling_header: \"a b\" },"),
       l + ".http.tracing.force_sampling_header: \"a b\" is not a valid header name"},
      {"HugeHeaderLimit", httpConfig("[{ domains: [\"*\"] }]", "max_request_headers_kb: 100000,"),
       l + ".http.max_request_headers_kb: 100000 is too large (at most 8192)"},
      {"VirtualHostWithoutDomains", httpConfig("[{ name: a }]"),
       v + "[0].domains: at least one domain is required"},
      {"DuplicateDomainAcrossVirtualHosts",
       httpConfig("[{ domains: [a.local, api.local] }, { domains: [API.local] }]"),
       v + "[1].domains[0]: duplicate domain \"API.local\" (also " + v + "[0].domains[1])"},
      {"DuplicateDomainInOneVirtualHost", httpConfig("[{ domains: [\"*\", \"*\"] }]"),
       v + "[0].domains[1]: duplicate domain \"*\""},
      {"WildcardInTheMiddle", httpConfig("[{ domains: [\"a*b.local\"] }]"),
       v + "[0].domains[0]: invalid wildcard in \"a*b.local\""},
      {"WildcardWithoutDot", httpConfig("[{ domains: [\"*foo.com\"] }]"),
       v + "[0].domains[0]: invalid wildcard in \"*foo.com\""},
      {"TwoWildcards", httpConfig("[{ domains: [\"*.*\"] }]"),
       v + "[0].domains[0]: invalid wildcard in \"*.*\""},
      {"EmptyDomain", httpConfig("[{ domains: [\"\"] }]"), v + "[0].domains[0]: must not be empty"},
      {"DomainWithSpace", httpConfig("[{ domains: [\"a b\"] }]"),
       v + "[0].domains[0]: invalid character in domain \"a b\""},
      // Route match.
      {"RouteWithoutMatch", routeConfig("{ route: { cluster: backend } }"), r + ".match: required"},
      {"MatchWithoutPathSpecifier",
       routeConfig("{ match: { headers: [{ name: x-a }] }, route: { cluster: backend } }"),
       r + ".match: one of \"prefix\", \"path\" or \"safe_regex\" is required"},
      {"PrefixWithoutSlash", routeConfig("{ match: { prefix: api }, route: { cluster: backend } }"),
       r + ".match.prefix: must start with \"/\""},
      {"EmptyPrefix", routeConfig("{ match: { prefix: \"\" }, route: { cluster: backend } }"),
       r + ".match.prefix: must start with \"/\""},
      {"PathWithoutSlash", routeConfig("{ match: { path: api }, route: { cluster: backend } }"),
       r + ".match.path: must start with \"/\""},
      {"BadRegex", routeConfig("{ match: { safe_regex: \"/(a\" }, route: { cluster: backend } }"),
       r + ".match.safe_regex: invalid regex \"/(a\": missing )"},
      {"HeaderMatcherWithoutName",
       routeConfig("{ match: { prefix: /, headers: [{ exact_match: x }] }, route: { cluster: "
                   "backend } }"),
       r + ".match.headers[0].name: required"},
      {"HeaderMatcherBadName",
       routeConfig("{ match: { prefix: /, headers: [{ name: \"a b\" }] }, route: { cluster: "
                   "backend } }"),
       r + ".match.headers[0].name: \"a b\" is not a valid header name"},
      {"HeaderMatcherBadRegex",
       routeConfig("{ match: { prefix: /, headers: [{ name: x, safe_regex_match: \"[\" }] }, "
                   "route: { cluster: backend } }"),
       r + ".match.headers[0].safe_regex_match: invalid regex \"[\""},
      {"QueryMatcherWithoutName",
       routeConfig("{ match: { prefix: /, query_parameters: [{ present_match: true }] }, route: "
                   "{ cluster: backend } }"),
       r + ".match.query_parameters[0].name: required"},
      {"QueryMatcherBadRegex",
       routeConfig("{ match: { prefix: /, query_parameters: [{ name: q, safe_regex_match: "
                   "\"a{2,1}\" }] }, route: { cluster: backend } }"),
       r + ".match.query_parameters[0].safe_regex_match: invalid regex"},
      // Route action.
      {"RouteWithoutAction", routeConfig("{ match: { prefix: / } }"), r + ".route: required"},
      {"ActionWithoutCluster", routeConfig("{ match: { prefix: / }, route: { timeout: 1s } }"),
       r + ".route: one of \"cluster\" or \"weighted_clusters\" is required"},
      {"UnknownCluster", routeConfig("{ match: { prefix: / }, route: { cluster: missing } }"),
       r + ".route.cluster: unknown cluster \"missing\""},
      {"EmptyClusterName", routeConfig("{ match: { prefix: / }, route: { cluster: \"\" } }"),
       r + ".route.cluster: required"},
      {"NoWeightedClusters",
       routeConfig("{ match: { prefix: / }, route: { weighted_clusters: {} } }"),
       r + ".route.weighted_clusters.clusters: at least one cluster is required"},
      {"ZeroWeight",
       routeConfig("{ match: { prefix: / }, route: { weighted_clusters: { clusters: [{ name: "
                   "backend, weight: 1 }, { name: other }] } } }"),
       r + ".route.weighted_clusters.clusters[1].weight: must be greater than 0"},
      {"UnknownWeightedCluster",
       routeConfig("{ match: { prefix: / }, route: { weighted_clusters: { clusters: [{ name: "
                   "nope, weight: 1 }] } } }"),
       r + ".route.weighted_clusters.clusters[0].name: unknown cluster \"nope\""},
      {"WeightsOverflow",
       routeConfig("{ match: { prefix: / }, route: { weighted_clusters: { clusters: [{ name: "
                   "backend, weight: 4294967295 }, { name: other, weight: 1 }] } } }"),
       r + ".route.weighted_clusters.clusters: the weights add up to 4294967296"},
      {"PrefixRewriteWithPathMatch",
       routeConfig("{ match: { path: /a }, route: { cluster: backend, prefix_rewrite: /b } }"),
       r + ".route.prefix_rewrite: only allowed with a \"prefix\" match"},
      {"PrefixRewriteWithoutSlash",
       routeConfig("{ match: { prefix: /a }, route: { cluster: backend, prefix_rewrite: b } }"),
       r + ".route.prefix_rewrite: must start with \"/\""},
      {"HostRewriteWithSpace",
       routeConfig("{ match: { prefix: / }, route: { cluster: backend, host_rewrite_literal: "
                   "\"a b\" } }"),
       r + ".route.host_rewrite_literal: \"a b\" is not a valid host"},
      {"NegativeRouteTimeout",
       routeConfig("{ match: { prefix: / }, route: { cluster: backend, timeout: -1s } }"),
       r + ".route.timeout: must not be negative"},
      {"NegativeRouteIdleTimeout",
       routeConfig("{ match: { prefix: / }, route: { cluster: backend, idle_timeout: -2s } }"),
       r + ".route.idle_timeout: must not be negative"},
      {"UnknownRetryCondition",
       routeConfig("{ match: { prefix: / }, route: { cluster: backend, retry_policy: "
                   "{ retry_on: [5xx, sometimes] } } }"),
       r + ".route.retry_policy.retry_on[1]: unknown \"sometimes\""},
      {"TooManyRetries",
       routeConfig("{ match: { prefix: / }, route: { cluster: backend, retry_policy: "
                   "{ retry_on: [5xx], num_retries: 50 } } }"),
       r + ".route.retry_policy.num_retries: 50 is more than 10"},
      {"RouteRateLimitWithoutTokens",
       routeConfig("{ match: { prefix: / }, route: { cluster: backend }, local_rate_limit: "
                   "{ fill_interval: 1s } }"),
       r + ".local_rate_limit.max_tokens: required (at least 1: the burst allowed)"},
      {"HashPolicyWithoutHeader",
       routeConfig("{ match: { prefix: / }, route: { cluster: backend, hash_policy: [{}] } }"),
       r + ".route.hash_policy[0].header_name: header name must not be empty"},
      // Header mutations.
      {"AddHostHeader",
       routeConfig("{ match: { prefix: / }, route: { cluster: backend }, "
                   "request_headers_to_add: [{ key: Host, value: x }] }"),
       r + ".request_headers_to_add[0].key: \"host\" cannot be modified"},
      {"RemovePseudoHeader", routeConfig(ok_route, "response_headers_to_remove: [\":status\"],"),
       v + "[0].response_headers_to_remove[0]: pseudo-header \":status\" cannot be modified"},
      {"RemoveHeaderWithSpace",
       routeConfig("{ match: { prefix: / }, route: { cluster: backend }, "
                   "request_headers_to_remove: [\"x a\"] }"),
       r + ".request_headers_to_remove[0]: \"x a\" is not a valid header name"},
      {"AddFramingHeader",
       routeConfig(ok_route, "request_headers_to_add: [{ key: transfer-encoding, value: x }],"),
       v + "[0].request_headers_to_add[0].key: framing header \"transfer-encoding\" cannot be "
           "modified"},
      {"HeaderValueWithNewline",
       routeConfig("{ match: { prefix: / }, route: { cluster: backend }, "
                   "response_headers_to_add: [{ key: x-a, value: \"a\\nb\" }] }"),
       r + ".response_headers_to_add[0].value: header value must not contain CR, LF or NUL"},
      {"EmptyHeaderKey", routeConfig(ok_route, "response_headers_to_add: [{ value: x }],"),
       v + "[0].response_headers_to_add[0].key: header name must not be empty"},
      // Clusters.
      {"ClusterWithoutName",
       clusterConfig("[{ endpoints: [{ address: { address: 127.0.0.1, port: 1 } }] }]"),
       c + ".name: required"},
      {"DuplicateClusterName",
       clusterConfig("[{ name: a, endpoints: [{ address: { address: 127.0.0.1, port: 1 } }] }, "
                     "{ name: a, endpoints: [{ address: { address: 127.0.0.1, port: 2 } }] }]"),
       "static_resources.clusters[1].name: duplicate cluster name \"a\" (also " + c + ")"},
      {"OutlierEjectionCapBelowBase",
       clusterConfig("[{ name: a, endpoints: [{ address: { address: 127.0.0.1, port: 1 } }], "
                     "outlier_detection: { base_ejection_time: 10s, max_ejection_time: 5s } }]"),
       c + ".outlier_detection.max_ejection_time: must not be shorter than base_ejection_time"},
      {"ClusterWithoutEndpoints", clusterConfig("[{ name: a }]"),
       c + ".endpoints: at least one endpoint is required"},
      {"EndpointWithoutAddress", clusterConfig("[{ name: a, endpoints: [{ weight: 2 }] }]"),
       c + ".endpoints[0].address: required"},
      {"StaticEndpointHostName",
       clusterConfig("[{ name: a, endpoints: [{ address: { address: db.local, port: 1 } }] }]"),
       c + ".endpoints[0].address.address: \"db.local\" is not an IP address (use type: "
           "STRICT_DNS for host names)"},
      {"DnsEndpointWithScheme",
       clusterConfig("[{ name: a, type: STRICT_DNS, endpoints: [{ address: { address: "
                     "\"http://db\", port: 1 } }] }]"),
       c + ".endpoints[0].address.address: \"http://db\" is not a valid host name"},
      {"DnsEndpointEmpty",
       clusterConfig("[{ name: a, type: STRICT_DNS, endpoints: [{ address: { port: 1 } }] }]"),
       c + ".endpoints[0].address.address: must not be empty"},
      {"EndpointPortZero",
       clusterConfig("[{ name: a, endpoints: [{ address: { address: 127.0.0.1 } }] }]"),
       c + ".endpoints[0].address.port: required (1 to 65535)"},
      {"EndpointPortOutOfRange",
       clusterConfig("[{ name: a, endpoints: [{ address: { address: 127.0.0.1, port: 70000 } }] "
                     "}]"),
       c + ".endpoints[0].address.port: 70000 is out of range (1 to 65535)"},
      {"ZeroConnectTimeout",
       clusterConfig("[{ name: a, connect_timeout: 0s, endpoints: [{ address: { address: "
                     "127.0.0.1, port: 1 } }] }]"),
       c + ".connect_timeout: must be greater than 0s"},
      {"ZeroDnsRefreshRate",
       clusterConfig("[{ name: a, dns_refresh_rate: 0s, endpoints: [{ address: { address: "
                     "127.0.0.1, port: 1 } }] }]"),
       c + ".dns_refresh_rate: must be greater than 0s"},
      {"NegativePoolIdleTimeout",
       clusterConfig("[{ name: a, connection_pool: { idle_timeout: -1s }, endpoints: [{ address: "
                     "{ address: 127.0.0.1, port: 1 } }] }]"),
       c + ".connection_pool.idle_timeout: must not be negative"},
      {"RingTooLarge",
       clusterConfig("[{ name: a, ring_hash_lb_config: { minimum_ring_size: 100000000 }, "
                     "endpoints: [{ address: { address: 127.0.0.1, port: 1 } }] }]"),
       c + ".ring_hash_lb_config.minimum_ring_size: 100000000 is too large"},
  };
}

class BrokenConfigTest : public ::testing::TestWithParam<BrokenCase> {};

TEST_P(BrokenConfigTest, ErrorStartsWithThePath) {
  const BrokenCase& broken = GetParam();
  absl::StatusOr<v1::Bootstrap> result = parseBootstrapYaml(broken.yaml);
  ASSERT_FALSE(result.ok()) << broken.yaml;
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(result.status().message()), StartsWith(broken.expected_prefix))
      << broken.yaml;
}

INSTANTIATE_TEST_SUITE_P(Cases, BrokenConfigTest, ::testing::ValuesIn(brokenCases()),
                         [](const ::testing::TestParamInfo<BrokenCase>& info) {
                           return info.param.name;
                         });

TEST(BootstrapValidatorTest, FullFeaturedConfigIsValid) {
  auto bootstrap = parseBootstrapYaml(R"(
admin: { address: { address: "::1", port: 0 } }
drain_timeout: 0s
static_resources:
  listeners:
    - name: edge
      address: { address: 0.0.0.0, port: 8080 }
      http:
        idle_timeout: 0s
        max_request_headers_kb: 8192
        max_request_body_bytes: 1048576
        access_log: { path: /dev/stdout }
        route_config:
          name: edge
          virtual_hosts:
            - name: api
              domains: ["api.local", "api.local:8080", "*.api.local", "api.*"]
              request_headers_to_add: [{ key: X-Env, value: prod, append: true }]
              response_headers_to_remove: [server]
              routes:
                - match:
                    safe_regex: "/v[0-9]+/.*"
                    headers: [{ name: ":method", exact_match: GET }, { name: x-canary }]
                    query_parameters: [{ name: debug, safe_regex_match: "1|true" }]
                  route:
                    weighted_clusters:
                      clusters: [{ name: blue, weight: 90 }, { name: green, weight: 10 }]
                    timeout: 0s
                    idle_timeout: 30s
                - match: { prefix: /static/ }
                  route:
                    cluster: blue
                    prefix_rewrite: /
                    host_rewrite_literal: static.internal:8080
                    hash_policy: [{ header_name: x-user }]
                  response_headers_to_add: [{ key: cache-control, value: max-age=60 }]
            - name: fallback
              domains: ["*"]
              routes: [{ match: { path: /healthz }, route: { cluster: green } }]
    - name: db
      address: { address: 127.0.0.1, port: 0 }
      tcp_proxy: { cluster: green, idle_timeout: 600s }
    - name: db2
      address: { address: 127.0.0.1, port: 0 }
      tcp_proxy: { cluster: green }
    - name: same-port-other-ip
      address: { address: 127.0.0.2, port: 8080 }
      tcp_proxy: { cluster: green }
  clusters:
    - name: blue
      lb_policy: RING_HASH
      ring_hash_lb_config: { minimum_ring_size: 1024 }
      endpoints:
        - address: { address: "2001:db8::1", port: 80 }
        - address: { address: 10.0.0.2, port: 80 }
          weight: 0
    - name: green
      type: STRICT_DNS
      connect_timeout: 1s
      dns_refresh_rate: 30s
      connection_pool: { idle_timeout: 0s, max_requests_per_connection: 100 }
      endpoints:
        - address: { address: green.svc.cluster.local., port: 443 }
        - address: { address: 10.0.0.3, port: 443 }
)");
  EXPECT_TRUE(bootstrap.ok()) << bootstrap.status();
}

TEST(BootstrapValidatorTest, AdminOnlyAndEmptyConfigsAreValid) {
  EXPECT_TRUE(parseBootstrapYaml("admin: { address: { address: 127.0.0.1, port: 15001 } }").ok());
  EXPECT_TRUE(parseBootstrapYaml("static_resources: {}").ok());
  EXPECT_TRUE(parseBootstrapYaml("admin:").ok());
}

TEST(BootstrapValidatorTest, AdminOnPortZeroDoesNotClaimAListenerPort) {
  EXPECT_TRUE(parseBootstrapYaml(config(tcpListener("a", "127.0.0.1", 15000), kDefaultClusters,
                                        "admin: { address: { address: 127.0.0.1, port: 0 } }"))
                  .ok());
}

TEST(BootstrapValidatorTest, ReportsEveryErrorInDocumentOrder) {
  auto result =
      parseBootstrapYaml(config(tcpListener("", "localhost", 1, "db"), "[{ name: backend }]"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(std::string(result.status().message()),
            "static_resources.listeners[0].name: required (every listener needs a unique name); "
            "static_resources.listeners[0].address.address: \"localhost\" is not an IP address "
            "(write an IPv4 or IPv6 literal such as 127.0.0.1 or ::1, without brackets or port); "
            "static_resources.listeners[0].tcp_proxy.cluster: unknown cluster \"db\"; "
            "static_resources.clusters[0].endpoints: at least one endpoint is required");
}

TEST(BootstrapValidatorTest, CapsTheNumberOfErrors) {
  std::string listeners;
  for (int i = 0; i < 30; ++i)
    listeners += tcpListener(absl::StrCat("l", i), "127.0.0.1", i + 1, "x");
  auto result = parseBootstrapYaml(config(listeners));
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("; and 10 more errors"));
}

// Messages can also arrive already parsed (xDS), with durations the JSON form cannot express.
TEST(BootstrapValidatorTest, RejectsMalformedDurationsInParsedMessages) {
  v1::Bootstrap bootstrap;
  bootstrap.mutable_drain_timeout()->set_seconds(1);
  bootstrap.mutable_drain_timeout()->set_nanos(-5);
  EXPECT_THAT(std::string(validateBootstrap(bootstrap).message()),
              StartsWith("drain_timeout: invalid duration"));
  bootstrap.mutable_drain_timeout()->set_seconds(0);
  EXPECT_THAT(std::string(validateBootstrap(bootstrap).message()),
              StartsWith("drain_timeout: must not be negative"));
  bootstrap.mutable_drain_timeout()->set_nanos(5);
  EXPECT_TRUE(validateBootstrap(bootstrap).ok());
}

}  // namespace
}  // namespace skiff::config
