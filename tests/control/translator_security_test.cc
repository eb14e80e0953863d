// Translation of the mesh's security settings: inbound listeners terminate mutual TLS with the
// workload's mode and carry the service's authorization policy; outbound clusters originate
// mutual TLS and accept exactly the SPIFFE identities of their workloads; TCP services are
// found by destination (interception), and everything else leaves through "passthrough".

#include <string>

#include "absl/strings/str_replace.h"
#include "config/bootstrap_loader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mesh_loader.h"
#include "skiff/config/v1/cluster.pb.h"
#include "skiff/config/v1/listener.pb.h"
#include "skiff/config/v1/route.pb.h"
#include "translator.h"

namespace skiff::control {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kSettings[] = R"(
settings:
  trust_domain: mesh.local
  mtls: STRICT
  default_authorization: DENY
)";

constexpr char kServices[] = R"(
services:
  - {name: frontend, namespace: shop, port: 8080}
  - {name: backend, namespace: shop, port: 8080, addresses: [10.96.0.10]}
  - {name: db, namespace: data, port: 5432, protocol: TCP, addresses: [10.96.0.20]}
  - {name: legacy, port: 8080}
workloads:
  - name: frontend
    service: frontend
    version: v1
    app_port: 18180
    service_account: web
    instances: [{node: frontend-0, address: 10.0.0.1}]
  - name: backend-v1
    service: backend
    version: v1
    app_port: 18181
    port_mtls: {18181: PERMISSIVE}
    instances: [{node: backend-v1-0, address: 10.0.0.2}]
  - name: backend-v2
    service: backend
    version: v2
    app_port: 18181
    service_account: backend-canary
    instances: [{node: backend-v2-0, address: 10.0.0.3}]
  - name: db
    service: db
    version: v1
    app_port: 15432
    instances: [{node: db-0, address: 10.0.0.5}]
  - name: legacy
    service: legacy
    version: v1
    app_port: 18190
    mtls: DISABLE
    instances: [{node: legacy-0, address: 10.0.0.9}]
)";

constexpr char kAuthorization[] = R"(
authorization_policies:
  - service: backend
    default_action: DENY
    rules:
      - {principals: ["spiffe://mesh.local/ns/shop/sa/web"], methods: [GET]}
      - {action: DENY, paths: ["/admin/*"]}
  - service: db
    rules:
      - {action: DENY, namespaces: [other]}
)";

mesh::v1::MeshFile securityMesh(const std::string& settings = kSettings) {
  absl::StatusOr<mesh::v1::MeshFile> mesh = parseMesh({{"settings.yaml", settings},
                                                       {"services.yaml", kServices},
                                                       {"authorization.yaml", kAuthorization}});
  EXPECT_TRUE(mesh.ok()) << mesh.status();
  return mesh.ok() ? *mesh : mesh::v1::MeshFile();
}

config::v1::Node node(const std::string& id) {
  config::v1::Node out;
  out.set_id(id);
  return out;
}

template <typename Message>
Message unpack(const NodeResources& resources, const std::string& type_url,
               const std::string& name) {
  Message message;
  auto it = resources.type(type_url).by_name.find(name);
  EXPECT_NE(it, resources.type(type_url).by_name.end()) << name;
  if (it != resources.type(type_url).by_name.end()) it->second.resource().UnpackTo(&message);
  return message;
}

config::v1::Listener listener(const NodeResources& resources, const std::string& name) {
  return unpack<config::v1::Listener>(resources, xds::kListenerType, name);
}

config::v1::Cluster cluster(const NodeResources& resources, const std::string& name) {
  return unpack<config::v1::Cluster>(resources, xds::kClusterType, name);
}

TEST(TranslatorSecurityTest, InboundTerminatesMutualTlsWithTheWorkloadsModes) {
  NodeResources resources = translate(securityMesh(), node("backend-v1-0"));
  config::v1::Listener inbound = listener(resources, "inbound");
  ASSERT_TRUE(inbound.has_tls());
  EXPECT_EQ(inbound.tls().mode(), config::v1::STRICT);  // from the settings
  // The application port's override, and the same for the inbound port that callers' proxies
  // dial directly (their connections carry it as their destination).
  ASSERT_EQ(inbound.tls().port_modes().size(), 2u);
  EXPECT_EQ(inbound.tls().port_modes().at(18181), config::v1::PERMISSIVE);
  EXPECT_EQ(inbound.tls().port_modes().at(15006), config::v1::PERMISSIVE);
  EXPECT_TRUE(inbound.use_original_dst());
}

TEST(TranslatorSecurityTest, InboundCarriesTheServicesAuthorizationPolicy) {
  NodeResources resources = translate(securityMesh(), node("backend-v2-0"));
  config::v1::Listener inbound = listener(resources, "inbound");
  ASSERT_TRUE(inbound.has_authorization());
  EXPECT_EQ(inbound.authorization().default_action(), config::v1::AuthorizationPolicy::DENY);
  ASSERT_EQ(inbound.authorization().rules_size(), 2);
  EXPECT_THAT(inbound.authorization().rules(0).principals(),
              ElementsAre("spiffe://mesh.local/ns/shop/sa/web"));
  EXPECT_EQ(inbound.authorization().rules(1).action(), config::v1::AuthorizationPolicy::DENY);
}

TEST(TranslatorSecurityTest, AuthorizationPortsOfTheAppPortAlsoCoverTheInboundPort) {
  const std::string policy = R"(
authorization_policies:
  - service: backend
    default_action: DENY
    rules:
      - {principals: ["spiffe://mesh.local/ns/shop/sa/web"], ports: [18181]}
      - {ports: [9999]}
)";
  absl::StatusOr<mesh::v1::MeshFile> mesh = parseMesh(
      {{"settings.yaml", kSettings}, {"services.yaml", kServices}, {"authz.yaml", policy}});
  ASSERT_TRUE(mesh.ok()) << mesh.status();
  config::v1::Listener inbound = listener(translate(*mesh, node("backend-v2-0")), "inbound");
  ASSERT_EQ(inbound.authorization().rules_size(), 2);
  // Callers' proxies reach the application port through the inbound port 15006.
  EXPECT_THAT(inbound.authorization().rules(0).ports(), ElementsAre(18181u, 15006u));
  EXPECT_THAT(inbound.authorization().rules(1).ports(), ElementsAre(9999u));
}

TEST(TranslatorSecurityTest, DefaultAuthorizationDenyIsARulelessPolicyAllowIsNone) {
  config::v1::Listener denied = listener(translate(securityMesh(), node("frontend-0")), "inbound");
  ASSERT_TRUE(denied.has_authorization());
  EXPECT_EQ(denied.authorization().default_action(), config::v1::AuthorizationPolicy::DENY);
  EXPECT_EQ(denied.authorization().rules_size(), 0);

  const std::string allow = "settings: {trust_domain: mesh.local, default_authorization: ALLOW}";
  config::v1::Listener allowed =
      listener(translate(securityMesh(allow), node("frontend-0")), "inbound");
  EXPECT_FALSE(allowed.has_authorization());
  // Without a mesh-wide mode, workloads are PERMISSIVE (they can join the mesh one at a time).
  EXPECT_EQ(allowed.tls().mode(), config::v1::PERMISSIVE);
}

TEST(TranslatorSecurityTest, DisabledWorkloadIsPlaintextBothWays) {
  config::v1::Listener inbound = listener(translate(securityMesh(), node("legacy-0")), "inbound");
  EXPECT_FALSE(inbound.has_tls());
  NodeResources caller = translate(securityMesh(), node("frontend-0"));
  EXPECT_FALSE(cluster(caller, "outbound|legacy").has_tls());
  EXPECT_FALSE(cluster(caller, "outbound|legacy|v1").has_tls());
}

TEST(TranslatorSecurityTest, ADisabledVersionMakesTheAllVersionsClusterPlaintext) {
  // Without settings.mtls the backend versions are PERMISSIVE; v1 moves to DISABLE.
  const std::string services = absl::StrReplaceAll(
      kServices, {{"    port_mtls: {18181: PERMISSIVE}\n", "    mtls: DISABLE\n"}});
  ASSERT_NE(services, kServices);
  absl::StatusOr<mesh::v1::MeshFile> mesh =
      parseMesh({{"services.yaml", services}, {"authorization.yaml", kAuthorization}});
  ASSERT_TRUE(mesh.ok()) << mesh.status();
  NodeResources caller = translate(*mesh, node("frontend-0"));
  // PERMISSIVE v2 also takes the plaintext that DISABLE v1 needs.
  EXPECT_FALSE(cluster(caller, "outbound|backend").has_tls());
  EXPECT_FALSE(cluster(caller, "outbound|backend|v1").has_tls());
  EXPECT_TRUE(cluster(caller, "outbound|backend|v2").has_tls());
  // The application port's override is what callers meet (they dial the inbound port).
  const std::string port_disabled = absl::StrReplaceAll(
      kServices, {{"port_mtls: {18181: PERMISSIVE}", "port_mtls: {18181: DISABLE}"}});
  mesh = parseMesh({{"services.yaml", port_disabled}});
  ASSERT_TRUE(mesh.ok()) << mesh.status();
  EXPECT_FALSE(cluster(translate(*mesh, node("frontend-0")), "outbound|backend|v1").has_tls());
}

TEST(TranslatorSecurityTest, OutboundClustersAcceptExactlyTheirWorkloadsIdentities) {
  NodeResources resources = translate(securityMesh(), node("frontend-0"));
  EXPECT_THAT(cluster(resources, "outbound|backend").tls().allowed_identities(),
              ElementsAre("spiffe://mesh.local/ns/shop/sa/backend",
                          "spiffe://mesh.local/ns/shop/sa/backend-canary"));
  EXPECT_THAT(cluster(resources, "outbound|backend|v1").tls().allowed_identities(),
              ElementsAre("spiffe://mesh.local/ns/shop/sa/backend"));
  EXPECT_THAT(cluster(resources, "outbound|backend|v2").tls().allowed_identities(),
              ElementsAre("spiffe://mesh.local/ns/shop/sa/backend-canary"));
  // The service's namespace is in the identity; the default trust domain is cluster.local.
  NodeResources defaults =
      translate(securityMesh("settings: {mtls: PERMISSIVE}"), node("frontend-0"));
  EXPECT_THAT(cluster(defaults, "outbound|db").tls().allowed_identities(),
              ElementsAre("spiffe://cluster.local/ns/data/sa/db"));
}

TEST(TranslatorSecurityTest, OutboundInterceptsTcpServicesAndPassesTheRestThrough) {
  NodeResources resources = translate(securityMesh(), node("frontend-0"));
  config::v1::Listener outbound = listener(resources, "outbound");
  EXPECT_TRUE(outbound.use_original_dst());
  EXPECT_EQ(outbound.tcp_fallback().cluster(), kPassthroughCluster);
  EXPECT_EQ(cluster(resources, kPassthroughCluster).type(), config::v1::Cluster::ORIGINAL_DST);
  ASSERT_EQ(outbound.destination_chains_size(), 1);
  const config::v1::DestinationChain& db = outbound.destination_chains(0);
  EXPECT_EQ(db.name(), "db");
  EXPECT_THAT(db.addresses(), ElementsAre("10.96.0.20", "10.0.0.5"));
  EXPECT_EQ(db.port(), 5432u);
  EXPECT_EQ(db.tcp_proxy().cluster(), "outbound|db");

  auto routes = unpack<config::v1::RouteConfiguration>(resources, xds::kRouteType, "outbound");
  std::vector<std::string> hosts;
  for (const config::v1::VirtualHost& host : routes.virtual_hosts()) {
    hosts.push_back(host.name());
    if (host.name() == "backend") {
      // A plain request to the service's address (or an instance's) is routed to it.
      EXPECT_THAT(host.domains(), Contains("10.96.0.10:8080"));
      EXPECT_THAT(host.domains(), Contains("10.0.0.3:8080"));
    }
  }
  EXPECT_THAT(hosts, Not(Contains("db")));  // TCP services have no virtual host
}

TEST(TranslatorSecurityTest, TcpServiceInboundIsATcpProxy) {
  NodeResources resources = translate(securityMesh(), node("db-0"));
  config::v1::Listener inbound = listener(resources, "inbound");
  EXPECT_EQ(inbound.tcp_proxy().cluster(), "inbound|db");
  EXPECT_FALSE(inbound.has_http());
  EXPECT_TRUE(inbound.has_tls());
  EXPECT_EQ(inbound.authorization().rules(0).namespaces(0), "other");
  EXPECT_EQ(resources.type(xds::kRouteType).by_name.count("inbound"), 0u);
  EXPECT_EQ(cluster(resources, "inbound|db").endpoints(0).address().port(), 15432u);
}

TEST(TranslatorSecurityTest, EveryResourcePassesTheProxysValidation) {
  for (const char* id : {"frontend-0", "backend-v1-0", "backend-v2-0", "db-0", "legacy-0"}) {
    NodeResources resources = translate(securityMesh(), node(id));
    for (const auto& [name, resource] : resources.type(xds::kListenerType).by_name) {
      config::v1::Listener message;
      ASSERT_TRUE(resource.resource().UnpackTo(&message));
      absl::Status status = config::validateListenerResource(message);
      EXPECT_TRUE(status.ok()) << id << " " << status;
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
  }
}

TEST(TranslatorSecurityTest, TranslationIsDeterministic) {
  // port_mtls is a map: its serialization order must not leak into versions.
  NodeResources first = translate(securityMesh(), node("backend-v1-0"));
  NodeResources second = translate(securityMesh(), node("backend-v1-0"));
  for (const std::string& type_url : kPushOrder) {
    EXPECT_EQ(first.type(type_url).version, second.type(type_url).version);
  }
  NodeResources changed = translate(
      securityMesh("settings: {trust_domain: other.local, mtls: STRICT}"), node("frontend-0"));
  NodeResources before = translate(securityMesh(), node("frontend-0"));
  EXPECT_NE(before.type(xds::kClusterType).by_name.at("outbound|backend").version(),
            changed.type(xds::kClusterType).by_name.at("outbound|backend").version());
}

}  // namespace
}  // namespace skiff::control
