// Validation for the discovery stream: the bootstrap's node and dynamic_resources, RDS
// listeners and EDS clusters in the bootstrap, and single resources validated on their own
// with errors prefixed by the resource.

#include <string>

#include "absl/strings/str_cat.h"
#include "config/bootstrap_loader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::config {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string errorOf(const absl::Status& status) { return std::string(status.message()); }

constexpr char kDynamic[] = R"(
node: { id: pod-1, workload: reviews }
dynamic_resources:
  ads_address: "127.0.0.1:15010"
  reconnect_base_interval: 0.1s
  reconnect_max_interval: 5s
  initial_fetch_timeout: 2s
static_resources:
  listeners:
    - name: outbound
      address: { address: 127.0.0.1, port: 15001 }
      http: { rds: { route_config_name: outbound } }
  clusters:
    - { name: "outbound|ratings", type: EDS }
)";

TEST(DynamicBootstrapTest, RdsListenerAndEdsClusterAreValid) {
  auto bootstrap = parseBootstrapYaml(kDynamic);
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  EXPECT_EQ(bootstrap->static_resources().listeners(0).http().rds().route_config_name(),
            "outbound");
}

TEST(DynamicBootstrapTest, BracketedIpv6AndHostNameAdsAddressesAreValid) {
  for (const char* address : {"[::1]:15010", "skiff-control.skiff-system:15010"}) {
    auto bootstrap = parseBootstrapYaml(
        absl::StrCat("node: { id: a }\ndynamic_resources: { ads_address: \"", address, "\" }\n"));
    EXPECT_TRUE(bootstrap.ok()) << address << ": " << bootstrap.status();
  }
}

struct Broken {
  const char* yaml;
  const char* expected;
};

TEST(DynamicBootstrapTest, BrokenConfigsNameTheField) {
  const Broken cases[] = {
      {"dynamic_resources: { ads_address: \"127.0.0.1:1\" }", "node.id: required"},
      {"node: { id: a }\ndynamic_resources: {}", "dynamic_resources.ads_address: required"},
      {"node: { id: a }\ndynamic_resources: { ads_address: control }",
       "dynamic_resources.ads_address: \"control\" is not \"host:port\""},
      {"node: { id: a }\ndynamic_resources: { ads_address: \"control:0\" }",
       "dynamic_resources.ads_address: \"control:0\": the port must be 1 to 65535"},
      {"node: { id: a }\ndynamic_resources: { ads_address: \"control:99999\" }",
       "dynamic_resources.ads_address: \"control:99999\": the port must be 1 to 65535"},
      {"node: { id: a }\ndynamic_resources: { ads_address: \"[nope]:1\" }",
       "dynamic_resources.ads_address: \"[nope]:1\": invalid IPv6 address"},
      {"node: { id: a }\ndynamic_resources: { ads_address: \"a:1\", reconnect_base_interval: 0s }",
       "dynamic_resources.reconnect_base_interval: must be greater than 0s"},
      {"node: { id: a }\ndynamic_resources: { ads_address: \"a:1\", reconnect_max_interval: -1s }",
       "dynamic_resources.reconnect_max_interval: must not be negative"},
      {"node: { id: a }\ndynamic_resources: { ads_address: \"a:1\", initial_fetch_timeout: -1s }",
       "dynamic_resources.initial_fetch_timeout: must not be negative"},
      {"static_resources: { clusters: [{ name: c, type: EDS }] }",
       "static_resources.clusters[0].type: EDS needs dynamic_resources"},
      {"node: { id: a }\ndynamic_resources: { ads_address: \"a:1\" }\nstatic_resources: { "
       "clusters: [{ name: c, type: EDS, endpoints: [{ address: { address: 127.0.0.1, port: 1 "
       "} }] }] }",
       "static_resources.clusters[0].endpoints: must be empty for type EDS"},
      {"static_resources: { listeners: [{ name: l, address: { address: 127.0.0.1, port: 1 }, "
       "http: { rds: {} } }] }",
       "static_resources.listeners[0].http.rds.route_config_name: required"},
  };
  for (const Broken& broken : cases) {
    auto bootstrap = parseBootstrapYaml(broken.yaml);
    ASSERT_FALSE(bootstrap.ok()) << broken.yaml;
    EXPECT_THAT(errorOf(bootstrap.status()), StartsWith(broken.expected)) << broken.yaml;
  }
}

template <typename Message>
Message parse(const std::string& yaml) {
  Message message;
  absl::Status status = yamlToMessage(yaml, message);
  EXPECT_TRUE(status.ok()) << status;
  return message;
}

TEST(DynamicResourceTest, ValidResourcesPass) {
  EXPECT_TRUE(validateListenerResource(parse<v1::Listener>(
                  "{ name: outbound, address: { address: 127.0.0.1, port: 15001 }, "
                  "http: { rds: { route_config_name: outbound } } }"))
                  .ok());
  // Cluster references are not checked: the cluster may arrive later (503 NC until then).
  EXPECT_TRUE(validateListenerResource(
                  parse<v1::Listener>("{ name: tcp, address: { address: 127.0.0.1, port: 1 }, "
                                      "tcp_proxy: { cluster: \"not-yet\" } }"))
                  .ok());
  EXPECT_TRUE(validateRouteConfigurationResource(
                  parse<v1::RouteConfiguration>(
                      "{ name: outbound, virtual_hosts: [{ name: r, domains: [r, \"r:9080\"], "
                      "routes: [{ match: { prefix: / }, route: { weighted_clusters: { clusters: "
                      "[{ name: \"outbound|r|v1\", weight: 90 }, { name: \"outbound|r|v2\", "
                      "weight: 10 }] } } }] }] }"))
                  .ok());
  EXPECT_TRUE(
      validateClusterResource(parse<v1::Cluster>("{ name: \"outbound|r\", type: EDS }")).ok());
  EXPECT_TRUE(validateClusterLoadAssignmentResource(
                  parse<v1::ClusterLoadAssignment>(
                      "{ cluster_name: \"outbound|r\", endpoints: [{ address: { address: "
                      "10.0.0.1, port: 15006 }, weight: 2 }] }"))
                  .ok());
  // An assignment may be empty: every instance of the service went away.
  EXPECT_TRUE(validateClusterLoadAssignmentResource(
                  parse<v1::ClusterLoadAssignment>("{ cluster_name: \"outbound|r\" }"))
                  .ok());
}

TEST(DynamicResourceTest, ListenerErrorsArePrefixedByTheResource) {
  absl::Status status = validateListenerResource(parse<v1::Listener>(
      "{ name: outbound, address: { address: 127.0.0.1, port: 70000 }, http: { rds: {} } }"));
  EXPECT_EQ(errorOf(status),
            "listener \"outbound\": address.port: 70000 is out of range (0 to 65535); "
            "http.rds.route_config_name: required (the name of a RouteConfiguration resource)");
  EXPECT_EQ(errorOf(validateListenerResource(parse<v1::Listener>(
                "{ name: x, address: { address: 127.0.0.1, port: 1 } }"))),
            "listener \"x\": no handler (set one of \"http\" or \"tcp_proxy\")");
  EXPECT_THAT(errorOf(validateListenerResource(
                  parse<v1::Listener>("{ address: { address: 127.0.0.1, port: 1 }, "
                                      "tcp_proxy: { cluster: c } }"))),
              StartsWith("listener \"\": name: required"));
}

TEST(DynamicResourceTest, RouteConfigurationErrorsArePrefixedByTheResource) {
  EXPECT_THAT(errorOf(validateRouteConfigurationResource(parse<v1::RouteConfiguration>(
                  "{ name: outbound, virtual_hosts: [{ domains: [\"*\"], routes: [{ match: { "
                  "safe_regex: \"(\" }, route: { cluster: a } }] }] }"))),
              StartsWith("route configuration \"outbound\": "
                         "virtual_hosts[0].routes[0].match.safe_regex: invalid regex"));
  EXPECT_THAT(errorOf(validateRouteConfigurationResource(parse<v1::RouteConfiguration>(
                  "{ virtual_hosts: [{ domains: [\"*\"] }] }"))),
              StartsWith("route configuration \"\": name: required"));
  EXPECT_THAT(errorOf(validateRouteConfigurationResource(
                  parse<v1::RouteConfiguration>("{ name: empty }"))),
              StartsWith("route configuration \"empty\": virtual_hosts: at least one"));
}

TEST(DynamicResourceTest, ClusterErrorsArePrefixedByTheResource) {
  EXPECT_THAT(errorOf(validateClusterResource(parse<v1::Cluster>(
                  "{ name: \"outbound|r\", type: EDS, endpoints: [{ address: { address: "
                  "10.0.0.1, port: 1 } }] }"))),
              StartsWith("cluster \"outbound|r\": endpoints: must be empty for type EDS"));
  EXPECT_THAT(errorOf(validateClusterResource(
                  parse<v1::Cluster>("{ name: \"inbound|r\", connect_timeout: 0s, endpoints: [{ "
                                     "address: { address: 127.0.0.1, port: 9080 } }] }"))),
              StartsWith("cluster \"inbound|r\": connect_timeout: must be greater than 0s"));
  EXPECT_THAT(errorOf(validateClusterResource(parse<v1::Cluster>("{ name: s }"))),
              StartsWith("cluster \"s\": endpoints: at least one endpoint is required"));
}

TEST(DynamicResourceTest, AssignmentErrorsArePrefixedByTheResource) {
  EXPECT_EQ(errorOf(validateClusterLoadAssignmentResource(parse<v1::ClusterLoadAssignment>(
                "{ cluster_name: c, endpoints: [{ address: { address: reviews, port: 1 } }, "
                "{ address: { address: 10.0.0.2 } }] }"))),
            "cluster load assignment \"c\": endpoints[0].address.address: \"reviews\" is not "
            "an IP address (use type: STRICT_DNS for host names); endpoints[1].address.port: "
            "required (1 to 65535)");
  EXPECT_THAT(errorOf(validateClusterLoadAssignmentResource(v1::ClusterLoadAssignment())),
              StartsWith("cluster load assignment \"\": cluster_name: required"));
}

}  // namespace
}  // namespace skiff::config
