#include "translator.h"

#include "config/bootstrap_loader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/config/v1/cluster.pb.h"
#include "skiff/config/v1/listener.pb.h"
#include "skiff/config/v1/route.pb.h"
#include "test_mesh.h"

namespace skiff::control {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

config::v1::Node node(const std::string& id, const std::string& workload = "") {
  config::v1::Node out;
  out.set_id(id);
  out.set_workload(workload);
  return out;
}

std::vector<std::string> names(const NodeResources& resources, const std::string& type_url) {
  std::vector<std::string> out;
  for (const auto& [name, resource] : resources.type(type_url).by_name) out.push_back(name);
  return out;
}

template <typename Message>
Message unpack(const NodeResources& resources, const std::string& type_url,
               const std::string& name) {
  Message message;
  EXPECT_TRUE(resources.type(type_url).by_name.at(name).resource().UnpackTo(&message));
  return message;
}

TEST(TranslatorTest, FrontendReceivesItsInboundSideAndOnlyTheServicesItCalls) {
  NodeResources resources = translate(testing::demoMesh(), node("frontend-0"));
  EXPECT_EQ(resources.workload, "frontend");
  EXPECT_TRUE(resources.instance_found);
  EXPECT_THAT(names(resources, xds::kClusterType),
              UnorderedElementsAre("inbound|frontend", "outbound|backend", "outbound|backend|v1",
                                   "outbound|backend|v2", "passthrough"));
  EXPECT_THAT(names(resources, xds::kEndpointType),
              UnorderedElementsAre("outbound|backend", "outbound|backend|v1",
                                   "outbound|backend|v2"));
  EXPECT_THAT(names(resources, xds::kRouteType), UnorderedElementsAre("inbound", "outbound"));
  EXPECT_THAT(names(resources, xds::kListenerType), UnorderedElementsAre("inbound", "outbound"));

  auto inbound_cluster =
      unpack<config::v1::Cluster>(resources, xds::kClusterType, "inbound|frontend");
  EXPECT_EQ(inbound_cluster.type(), config::v1::Cluster::STATIC);
  EXPECT_EQ(inbound_cluster.endpoints(0).address().port(), 18180u);
  auto inbound = unpack<config::v1::Listener>(resources, xds::kListenerType, "inbound");
  EXPECT_EQ(inbound.address().address(), "127.0.0.1");
  EXPECT_EQ(inbound.address().port(), 15106u);
  EXPECT_EQ(inbound.http().rds().route_config_name(), "inbound");
  auto outbound = unpack<config::v1::Listener>(resources, xds::kListenerType, "outbound");
  EXPECT_EQ(outbound.address().port(), 15101u);
  auto inbound_routes =
      unpack<config::v1::RouteConfiguration>(resources, xds::kRouteType, "inbound");
  EXPECT_TRUE(inbound_routes.virtual_hosts(0).routes(0).route().has_timeout());
  EXPECT_EQ(inbound_routes.virtual_hosts(0).routes(0).route().cluster(), "inbound|frontend");
}

TEST(TranslatorTest, EndpointsAreTheInstancesInboundAddressesWithWeights) {
  NodeResources resources = translate(testing::demoMesh(), node("frontend-0"));
  auto all = unpack<config::v1::ClusterLoadAssignment>(resources, xds::kEndpointType,
                                                       "outbound|backend");
  EXPECT_EQ(all.cluster_name(), "outbound|backend");
  ASSERT_EQ(all.endpoints_size(), 2);
  EXPECT_EQ(all.endpoints(0).address().address(), "10.0.0.1");
  EXPECT_EQ(all.endpoints(0).address().port(), 15206u);  // the workload's inbound port
  EXPECT_EQ(all.endpoints(0).weight(), 3u);
  EXPECT_EQ(all.endpoints(1).address().port(), 15306u);  // the instance's own
  auto v2 = unpack<config::v1::ClusterLoadAssignment>(resources, xds::kEndpointType,
                                                      "outbound|backend|v2");
  ASSERT_EQ(v2.endpoints_size(), 1);
  EXPECT_EQ(v2.endpoints(0).address().address(), "10.0.0.2");
  auto cluster =
      unpack<config::v1::Cluster>(resources, xds::kClusterType, "outbound|backend|v1");
  EXPECT_EQ(cluster.type(), config::v1::Cluster::EDS);
  EXPECT_EQ(cluster.endpoints_size(), 0);
}

TEST(TranslatorTest, OutboundRoutesFollowThePolicyAndDropZeroWeights) {
  NodeResources resources = translate(testing::demoMesh(), node("frontend-0"));
  auto routes = unpack<config::v1::RouteConfiguration>(resources, xds::kRouteType, "outbound");
  // The service, then the catch-all that passes other HTTP through (ORIGINAL_DST).
  ASSERT_EQ(routes.virtual_hosts_size(), 2);
  EXPECT_THAT(routes.virtual_hosts(1).domains(), ElementsAre("*"));
  EXPECT_EQ(routes.virtual_hosts(1).routes(0).route().cluster(), "passthrough");
  const config::v1::VirtualHost& host = routes.virtual_hosts(0);
  EXPECT_EQ(host.name(), "backend");
  EXPECT_THAT(host.domains(),
              ElementsAre("backend", "backend:8080", "backend.default", "backend.default:8080",
                          "backend.default.svc.cluster.local",
                          "backend.default.svc.cluster.local:8080",
                          // The instances' addresses, for intercepted requests to an address.
                          "10.0.0.1:8080", "10.0.0.2:8080"));
  ASSERT_EQ(host.routes_size(), 2);
  const config::v1::Route& canary = host.routes(0);
  EXPECT_EQ(canary.match().prefix(), "/api");
  EXPECT_EQ(canary.route().cluster(), "outbound|backend|v2");
  EXPECT_EQ(canary.route().prefix_rewrite(), "/v2/api");
  EXPECT_EQ(canary.route().timeout().seconds(), 5);
  const config::v1::Route& fallback = host.routes(1);
  EXPECT_EQ(fallback.match().prefix(), "/");
  EXPECT_EQ(fallback.route().cluster(), "outbound|backend|v1");  // v2:0 dropped
  EXPECT_EQ(fallback.route().timeout().seconds(), 5);

  const std::string split = R"(
traffic_policies:
  - service: backend
    default_split: [{version: v1, weight: 80}, {version: v2, weight: 20}]
)";
  resources = translate(testing::demoMesh(split), node("frontend-0"));
  routes = unpack<config::v1::RouteConfiguration>(resources, xds::kRouteType, "outbound");
  const config::v1::RouteAction& action = routes.virtual_hosts(0).routes(0).route();
  ASSERT_EQ(action.weighted_clusters().clusters_size(), 2);
  EXPECT_EQ(action.weighted_clusters().clusters(1).name(), "outbound|backend|v2");
  EXPECT_EQ(action.weighted_clusters().clusters(1).weight(), 20u);
  EXPECT_FALSE(action.has_timeout());  // the proxy's default
}

TEST(TranslatorTest, RetriesAndTheBudgetGoToTheCallersRoutesAndClusters) {
  const std::string policy = R"(
traffic_policies:
  - service: backend
    retries: {retry_on: [gateway-error], num_retries: 2}
    retry_budget: {budget_percent: 10, min_retry_concurrency: 5}
    routes:
      - match: {prefix: /pay}
        retries: {retry_on: [connect-failure], num_retries: 1}
)";
  NodeResources resources = translate(testing::demoMesh(policy), node("frontend-0"));
  auto routes = unpack<config::v1::RouteConfiguration>(resources, xds::kRouteType, "outbound");
  const config::v1::VirtualHost& host = routes.virtual_hosts(0);
  ASSERT_EQ(host.routes_size(), 2);
  // The route's own retries win over the service's.
  EXPECT_THAT(host.routes(0).route().retry_policy().retry_on(), ElementsAre("connect-failure"));
  EXPECT_THAT(host.routes(1).route().retry_policy().retry_on(), ElementsAre("gateway-error"));
  EXPECT_EQ(host.routes(1).route().retry_policy().num_retries().value(), 2u);
  for (const char* name : {"outbound|backend", "outbound|backend|v1"}) {
    auto cluster = unpack<config::v1::Cluster>(resources, xds::kClusterType, name);
    EXPECT_EQ(cluster.retry_budget().budget_percent().value(), 10) << name;
    EXPECT_EQ(cluster.retry_budget().min_retry_concurrency().value(), 5u) << name;
  }
}

TEST(TranslatorTest, CircuitBreakersAndOutlierDetectionGoToTheCallersClustersOnly) {
  const std::string policy = R"(
traffic_policies:
  - service: backend
    circuit_breakers: {max_requests: 100, max_pending_requests: 10}
    outlier_detection: {consecutive_5xx: 3}
)";
  NodeResources resources = translate(testing::demoMesh(policy), node("frontend-0"));
  for (const char* name : {"outbound|backend", "outbound|backend|v2"}) {
    auto cluster = unpack<config::v1::Cluster>(resources, xds::kClusterType, name);
    EXPECT_EQ(cluster.circuit_breakers().max_requests().value(), 100u) << name;
    EXPECT_EQ(cluster.circuit_breakers().max_pending_requests().value(), 10u) << name;
    EXPECT_FALSE(cluster.circuit_breakers().has_max_connections()) << name;
    EXPECT_EQ(cluster.outlier_detection().consecutive_5xx().value(), 3u) << name;
  }
  // The service's own inbound cluster (its application) is not limited by its callers' policy.
  NodeResources own = translate(testing::demoMesh(policy), node("backend-v1-0"));
  auto inbound = unpack<config::v1::Cluster>(own, xds::kClusterType, "inbound|backend");
  EXPECT_FALSE(inbound.has_circuit_breakers());
  EXPECT_FALSE(inbound.has_outlier_detection());
}

TEST(TranslatorTest, EverySidecarListenerPropagatesTraceContext) {
  // Unset: the proxy's defaults, on every HTTP sidecar listener.
  for (const char* name : {"frontend-0", "backend-v1-0"}) {
    NodeResources resources = translate(testing::demoMesh(), node(name));
    for (const char* listener : {"inbound", "outbound"}) {
      auto message = unpack<config::v1::Listener>(resources, xds::kListenerType, listener);
      EXPECT_TRUE(message.http().has_tracing()) << name << " " << listener;
      EXPECT_FALSE(message.http().tracing().has_sampling_ratio()) << name << " " << listener;
    }
  }
  // The mesh's setting, as it is written.
  mesh::v1::MeshFile mesh = testing::demoMesh();
  mesh.mutable_settings()->mutable_tracing()->mutable_sampling_ratio()->set_value(0.25);
  mesh.mutable_settings()->mutable_tracing()->mutable_keep_b3()->set_value(false);
  NodeResources resources = translate(mesh, node("frontend-0"));
  for (const char* listener : {"inbound", "outbound"}) {
    auto message = unpack<config::v1::Listener>(resources, xds::kListenerType, listener);
    EXPECT_EQ(message.http().tracing().sampling_ratio().value(), 0.25) << listener;
    EXPECT_FALSE(message.http().tracing().keep_b3().value()) << listener;
  }
}

TEST(TranslatorTest, RateLimitsGoToTheServicesOwnInboundSide) {
  const std::string policy = R"(
traffic_policies:
  - service: backend
    rate_limit: {max_tokens: 100, tokens_per_fill: 10, fill_interval: 1s}
    routes:
      - name: canary
        match: {prefix: /api, headers: [{name: x-canary, exact_match: "1"}]}
        split: [{version: v2, weight: 100}]
        prefix_rewrite: /v2/api
      - name: pay
        match: {prefix: /pay}
        rate_limit: {max_tokens: 5, fill_interval: 2s, shadow: true}
)";
  mesh::v1::MeshFile mesh = testing::demoMesh(policy);
  NodeResources backend = translate(mesh, node("backend-v1-0"));
  auto listener = unpack<config::v1::Listener>(backend, xds::kListenerType, "inbound");
  ASSERT_TRUE(listener.http().has_local_rate_limit());
  EXPECT_EQ(listener.http().local_rate_limit().max_tokens(), 100u);
  EXPECT_EQ(listener.http().local_rate_limit().tokens_per_fill().value(), 10u);
  EXPECT_EQ(listener.http().local_rate_limit().fill_interval().seconds(), 1);
  // The policy's routes, in order, to the application, then the catch-all.
  auto routes = unpack<config::v1::RouteConfiguration>(backend, xds::kRouteType, "inbound");
  const config::v1::VirtualHost& host = routes.virtual_hosts(0);
  ASSERT_EQ(host.routes_size(), 3);
  EXPECT_EQ(host.routes(0).name(), "canary");
  EXPECT_EQ(host.routes(0).match().prefix(), "/v2/api");  // as the caller's proxy rewrote it
  EXPECT_EQ(host.routes(0).match().headers(0).name(), "x-canary");
  EXPECT_FALSE(host.routes(0).has_local_rate_limit());
  EXPECT_EQ(host.routes(1).name(), "pay");
  EXPECT_EQ(host.routes(1).match().prefix(), "/pay");
  EXPECT_EQ(host.routes(1).local_rate_limit().max_tokens(), 5u);
  EXPECT_TRUE(host.routes(1).local_rate_limit().shadow());
  EXPECT_EQ(host.routes(2).match().prefix(), "/");
  for (const config::v1::Route& route : host.routes()) {
    EXPECT_EQ(route.route().cluster(), "inbound|backend");
    EXPECT_EQ(route.route().timeout().seconds(), 0);
  }

  // Callers do not enforce the service's limits, and other services have none.
  NodeResources frontend = translate(mesh, node("frontend-0"));
  auto outbound = unpack<config::v1::RouteConfiguration>(frontend, xds::kRouteType, "outbound");
  for (const config::v1::VirtualHost& outbound_host : outbound.virtual_hosts()) {
    for (const config::v1::Route& route : outbound_host.routes()) {
      EXPECT_FALSE(route.has_local_rate_limit()) << route.name();
    }
  }
  EXPECT_FALSE(unpack<config::v1::Listener>(frontend, xds::kListenerType, "outbound")
                   .http()
                   .has_local_rate_limit());
  EXPECT_FALSE(unpack<config::v1::Listener>(frontend, xds::kListenerType, "inbound")
                   .http()
                   .has_local_rate_limit());
  EXPECT_EQ(unpack<config::v1::RouteConfiguration>(frontend, xds::kRouteType, "inbound")
                .virtual_hosts(0)
                .routes_size(),
            1);
  for (const auto& [name, resource] : backend.type(xds::kRouteType).by_name) {
    config::v1::RouteConfiguration message;
    ASSERT_TRUE(resource.resource().UnpackTo(&message));
    EXPECT_TRUE(config::validateRouteConfigurationResource(message).ok()) << name;
  }
  EXPECT_TRUE(config::validateListenerResource(listener).ok());
}

TEST(TranslatorTest, EmptyCallsMeansEveryServiceAndGrpcIsHttp2) {
  NodeResources resources = translate(testing::demoMesh(), node("backend-v1-0"));
  EXPECT_THAT(names(resources, xds::kClusterType),
              UnorderedElementsAre("inbound|backend", "outbound|backend", "outbound|backend|v1",
                                   "outbound|backend|v2", "outbound|frontend",
                                   "outbound|frontend|v1", "outbound|billing",
                                   "outbound|billing|v1", "passthrough"));
  auto billing = unpack<config::v1::Cluster>(resources, xds::kClusterType, "outbound|billing");
  EXPECT_EQ(billing.protocol(), config::v1::Cluster::HTTP2);
  auto inbound = unpack<config::v1::Listener>(resources, xds::kListenerType, "inbound");
  EXPECT_EQ(inbound.address().address(), "10.0.0.1");
  auto outbound = unpack<config::v1::RouteConfiguration>(resources, xds::kRouteType, "outbound");
  ASSERT_EQ(outbound.virtual_hosts_size(), 4);  // three services and the passthrough
  EXPECT_EQ(outbound.virtual_hosts(2).domains(2), "billing.pay");
  EXPECT_EQ(outbound.virtual_hosts(2).routes(0).route().cluster(), "outbound|billing");
}

TEST(TranslatorTest, UnknownNodeFallsBackToWorkloadDefaultsOrNothing) {
  NodeResources by_workload = translate(testing::demoMesh(), node("pod-7", "backend-v2"));
  EXPECT_EQ(by_workload.workload, "backend-v2");
  EXPECT_FALSE(by_workload.instance_found);
  auto inbound = unpack<config::v1::Listener>(by_workload, xds::kListenerType, "inbound");
  EXPECT_EQ(inbound.address().address(), "127.0.0.1");
  EXPECT_EQ(inbound.address().port(), 15006u);
  auto outbound = unpack<config::v1::Listener>(by_workload, xds::kListenerType, "outbound");
  EXPECT_EQ(outbound.address().port(), 15001u);

  NodeResources nothing = translate(testing::demoMesh(), node("pod-7", "nope"));
  EXPECT_EQ(nothing.workload, "");
  for (const std::string& type_url : kPushOrder) {
    EXPECT_TRUE(nothing.type(type_url).by_name.empty());
  }
}

TEST(TranslatorTest, EveryResourcePassesTheProxysValidation) {
  for (const char* id : {"frontend-0", "backend-v1-0", "backend-v2-0", "billing-0"}) {
    NodeResources resources = translate(testing::demoMesh(), node(id));
    for (const auto& [name, resource] : resources.type(xds::kListenerType).by_name) {
      config::v1::Listener message;
      ASSERT_TRUE(resource.resource().UnpackTo(&message));
      EXPECT_TRUE(config::validateListenerResource(message).ok()) << id << " " << name;
    }
    for (const auto& [name, resource] : resources.type(xds::kRouteType).by_name) {
      config::v1::RouteConfiguration message;
      ASSERT_TRUE(resource.resource().UnpackTo(&message));
      absl::Status status = config::validateRouteConfigurationResource(message);
      EXPECT_TRUE(status.ok()) << id << " " << status;
    }
    for (const auto& [name, resource] : resources.type(xds::kClusterType).by_name) {
      config::v1::Cluster message;
      ASSERT_TRUE(resource.resource().UnpackTo(&message));
      absl::Status status = config::validateClusterResource(message);
      EXPECT_TRUE(status.ok()) << id << " " << status;
    }
    for (const auto& [name, resource] : resources.type(xds::kEndpointType).by_name) {
      config::v1::ClusterLoadAssignment message;
      ASSERT_TRUE(resource.resource().UnpackTo(&message));
      absl::Status status = config::validateClusterLoadAssignmentResource(message);
      EXPECT_TRUE(status.ok()) << id << " " << status;
    }
  }
}

TEST(TranslatorTest, VersionsAreStableAndAChangedSplitChangesOnlyTheOutboundRoutes) {
  NodeResources before = translate(testing::demoMesh(), node("frontend-0"));
  NodeResources again = translate(testing::demoMesh(), node("frontend-0"));
  const std::string changed_policy = absl::StrReplaceAll(
      testing::kPolicy, {{"weight: 100}, {version: v2, weight: 0}",
                          "weight: 80}, {version: v2, weight: 20}"}});
  ASSERT_NE(changed_policy, testing::kPolicy);
  NodeResources after = translate(testing::demoMesh(changed_policy), node("frontend-0"));
  for (const std::string& type_url : kPushOrder) {
    EXPECT_EQ(before.type(type_url).version, again.type(type_url).version);
    for (const auto& [name, resource] : before.type(type_url).by_name) {
      const std::string& new_version = after.type(type_url).by_name.at(name).version();
      EXPECT_EQ(resource.version().size(), 16u);
      if (type_url == xds::kRouteType && name == "outbound") {
        EXPECT_NE(resource.version(), new_version);
      } else {
        EXPECT_EQ(resource.version(), new_version) << type_url << " " << name;
      }
    }
  }
  EXPECT_NE(before.type(xds::kRouteType).version, after.type(xds::kRouteType).version);
  EXPECT_EQ(before.type(xds::kClusterType).version, after.type(xds::kClusterType).version);
  EXPECT_NE(MeshSnapshot(testing::demoMesh()).version(),
            MeshSnapshot(testing::demoMesh(changed_policy)).version());
  EXPECT_EQ(MeshSnapshot(testing::demoMesh()).version(),
            MeshSnapshot(testing::demoMesh()).version());
}

TEST(MeshSnapshotTest, TranslatesOncePerNode) {
  MeshSnapshot snapshot(testing::demoMesh());
  auto first = snapshot.resourcesFor(node("frontend-0"));
  EXPECT_EQ(first, snapshot.resourcesFor(node("frontend-0")));
  EXPECT_NE(first, snapshot.resourcesFor(node("backend-v1-0")));
}

}  // namespace
}  // namespace skiff::control
