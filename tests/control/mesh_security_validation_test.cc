// Validation of the mesh's security fields: every error names its file and field path.

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mesh_loader.h"

namespace skiff::control {
namespace {

using ::testing::HasSubstr;

constexpr char kServices[] = R"(
services:
  - {name: web, port: 8080}
  - {name: db, port: 5432, protocol: TCP, addresses: [10.96.0.20]}
workloads:
  - {name: web, service: web, version: v1, app_port: 18080, instances: [{node: web-0}]}
  - {name: db, service: db, version: v1, app_port: 15432, instances: [{node: db-0}]}
)";

std::string errorOf(const std::string& extra, const std::string& more = "") {
  std::vector<MeshSource> sources = {{"mesh/services.yaml", kServices},
                                     {"mesh/security.yaml", extra}};
  if (!more.empty()) sources.push_back({"mesh/more.yaml", more});
  absl::StatusOr<mesh::v1::MeshFile> mesh = parseMesh(sources);
  return mesh.ok() ? "(accepted)" : std::string(mesh.status().message());
}

TEST(MeshSecurityValidationTest, ValidSecurityIsAccepted) {
  EXPECT_EQ(errorOf(R"(
settings: {trust_domain: mesh.local, mtls: STRICT, default_authorization: DENY}
authorization_policies:
  - service: web
    rules: [{principals: ["spiffe://mesh.local/ns/default/*"], methods: [GET], paths: ["/api/*"]}]
  - service: db
    default_action: DENY
    rules: [{namespaces: [default], ports: [5432]}]
)"),
            "(accepted)");
}

TEST(MeshSecurityValidationTest, SettingsInOneFileOnly) {
  EXPECT_THAT(errorOf("settings: {mtls: STRICT}", "settings: {trust_domain: a.b}"),
              HasSubstr("mesh/more.yaml: settings: set in more than one file (also "
                        "mesh/security.yaml)"));
}

TEST(MeshSecurityValidationTest, TrustDomain) {
  EXPECT_THAT(errorOf("settings: {trust_domain: Mesh.Local}"),
              HasSubstr("mesh/security.yaml: settings.trust_domain: \"Mesh.Local\" is not a "
                        "SPIFFE trust domain"));
}

TEST(MeshSecurityValidationTest, PolicyNamesOneExistingService) {
  EXPECT_THAT(errorOf("authorization_policies: [{service: cart}]"),
              HasSubstr("mesh/security.yaml: authorization_policies[0].service: unknown "
                        "service \"cart\""));
  EXPECT_THAT(errorOf("authorization_policies: [{service: web}]",
                      "authorization_policies: [{service: web}]"),
              HasSubstr("mesh/more.yaml: authorization_policies[0].service: duplicate "
                        "authorization policy for service \"web\" (also mesh/security.yaml: "
                        "authorization_policies[0].service)"));
}

TEST(MeshSecurityValidationTest, RuleFields) {
  const std::string rules = "authorization_policies: [{service: web, rules: [{}, ";
  EXPECT_THAT(errorOf(rules + "{methods: [get]}]}]"),
              HasSubstr("mesh/security.yaml: authorization_policies[0].rules[1].methods[0]: "
                        "\"get\" must be upper case"));
  EXPECT_THAT(errorOf(rules + "{paths: [api]}]}]"),
              HasSubstr("authorization_policies[0].rules[1].paths[0]: \"api\" must start with "
                        "\"/\""));
  EXPECT_THAT(errorOf(rules + "{principals: [web]}]}]"),
              HasSubstr("authorization_policies[0].rules[1].principals[0]: \"web\" is not a "
                        "SPIFFE ID"));
  EXPECT_THAT(errorOf(rules + "{ports: [0]}]}]"),
              HasSubstr("authorization_policies[0].rules[1].ports[0]: 0 is out of range"));
  // A TCP service has no methods or paths: such a rule could never match.
  EXPECT_THAT(errorOf("authorization_policies: [{service: db, rules: [{paths: [/]}]}]"),
              HasSubstr("authorization_policies[0].rules[0].paths: a TCP connection has no "
                        "method or path"));
}

TEST(MeshSecurityValidationTest, WorkloadFields) {
  const std::string workload =
      "workloads: [{name: extra, service: web, version: v2, app_port: 18081, ";
  EXPECT_THAT(errorOf(workload + "service_account: Web_1}]"),
              HasSubstr("mesh/security.yaml: workloads[0].service_account: \"Web_1\" is not a "
                        "valid service account name"));
  EXPECT_THAT(errorOf(workload + "port_mtls: {70000: STRICT}}]"),
              HasSubstr("mesh/security.yaml: workloads[0].port_mtls[70000]: port 70000 is out "
                        "of range"));
  EXPECT_THAT(errorOf(workload + "port_mtls: {0: STRICT}}]"),
              HasSubstr("workloads[0].port_mtls[0]: port 0 is out of range"));
}

TEST(MeshSecurityValidationTest, DisableBesideStrictInOneServiceIsRefused) {
  const std::string v2 = "workloads: [{name: web-v2, service: web, version: v2, app_port: 18081, ";
  EXPECT_THAT(errorOf("settings: {mtls: STRICT}", v2 + "mtls: DISABLE}]"),
              HasSubstr("mesh/more.yaml: workloads[0].mtls: DISABLE for callers, but workload "
                        "\"web\" of service \"web\" is STRICT (mesh/services.yaml: "
                        "workloads[0])"));
  // The application port's override counts: it is what callers meet.
  EXPECT_THAT(errorOf("settings: {mtls: STRICT}", v2 + "port_mtls: {18081: DISABLE}}]"),
              HasSubstr("workloads[0].mtls: DISABLE for callers"));
  // DISABLE beside PERMISSIVE works (plaintext for both), and so does PERMISSIVE beside STRICT.
  EXPECT_EQ(errorOf("settings: {mtls: PERMISSIVE}", v2 + "mtls: DISABLE}]"), "(accepted)");
  EXPECT_EQ(errorOf("settings: {mtls: PERMISSIVE}", v2 + "mtls: STRICT}]"), "(accepted)");
}

TEST(MeshSecurityValidationTest, ServiceAddresses) {
  EXPECT_THAT(errorOf("services: [{name: cache, port: 6379, protocol: TCP, addresses: [10.0.0]}]"),
              HasSubstr("mesh/security.yaml: services[0].addresses[0]: \"10.0.0\" is not an IP "
                        "address or CIDR range"));
  EXPECT_THAT(errorOf("services: [{name: cache, port: 6379, addresses: [10.0.0.0/33]}]"),
              HasSubstr("services[0].addresses[0]: \"10.0.0.0/33\": the prefix length"));
  // The same address and port for two services: interception could not tell them apart.
  EXPECT_THAT(errorOf("services: [{name: db2, port: 5432, protocol: TCP, "
                      "addresses: [10.96.0.20]}]"),
              HasSubstr("mesh/security.yaml: services[0].addresses[0]: duplicate service "
                        "address"));
  EXPECT_EQ(errorOf("services: [{name: db2, port: 5433, protocol: TCP, addresses: [10.96.0.20, "
                    "\"fd00::/64\"]}]"),
            "(accepted)");
}

}  // namespace
}  // namespace skiff::control
