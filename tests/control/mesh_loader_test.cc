#include "mesh_loader.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_mesh.h"

namespace skiff::control {
namespace {

using ::testing::HasSubstr;

std::string errorOf(const std::string& policy) {
  absl::StatusOr<mesh::v1::MeshFile> mesh = parseMesh(testing::demoSources(policy));
  EXPECT_FALSE(mesh.ok());
  return mesh.ok() ? "" : std::string(mesh.status().message());
}

TEST(MeshLoaderTest, MergesTheFilesInOrder) {
  mesh::v1::MeshFile mesh = testing::demoMesh();
  EXPECT_EQ(mesh.services_size(), 3);
  EXPECT_EQ(mesh.workloads_size(), 4);
  EXPECT_EQ(mesh.traffic_policies_size(), 1);
  EXPECT_EQ(mesh.services(0).name(), "frontend");
}

TEST(MeshLoaderTest, UnknownSplitVersionNamesFileAndField) {
  const std::string error = errorOf(R"(
traffic_policies:
  - service: backend
    routes:
      - match: {prefix: /}
        split: [{version: v1, weight: 1}]
      - match: {prefix: /x}
        split: [{version: v3, weight: 1}]
)");
  EXPECT_EQ(error, "mesh/policy.yaml: traffic_policies[0].routes[1].split[0].version: service "
                   "\"backend\" has no version \"v3\"");
}

TEST(MeshLoaderTest, RetriesAreCheckedByTheProxysOwnRules) {
  EXPECT_THAT(errorOf("traffic_policies:\n  - service: backend\n    retries: {retry_on: [5xx, "
                      "whenever]}\n"),
              HasSubstr("mesh/policy.yaml: traffic_policies[0].retries.retry_on[1]: unknown "
                        "\"whenever\""));
  EXPECT_THAT(errorOf("traffic_policies:\n  - service: backend\n    retry_budget: "
                      "{budget_percent: 150}\n"),
              HasSubstr("mesh/policy.yaml: traffic_policies[0].retry_budget.budget_percent: must "
                        "be between 0 and 100"));
}

TEST(MeshLoaderTest, OutlierDetectionIsCheckedByTheProxysOwnRules) {
  EXPECT_EQ(errorOf("traffic_policies:\n  - service: backend\n    outlier_detection: "
                    "{base_ejection_time: 60s, max_ejection_time: 30s}\n"),
            "mesh/policy.yaml: traffic_policies[0].outlier_detection.max_ejection_time: must not "
            "be shorter than base_ejection_time (60000ms)");
  EXPECT_EQ(errorOf("traffic_policies:\n  - service: backend\n    outlier_detection: "
                    "{max_ejection_percent: 101}\n"),
            "mesh/policy.yaml: traffic_policies[0].outlier_detection.max_ejection_percent: must "
            "be between 0 and 100");
  EXPECT_EQ(errorOf("traffic_policies:\n  - service: backend\n    outlier_detection: "
                    "{interval: 0s}\n"),
            "mesh/policy.yaml: traffic_policies[0].outlier_detection.interval: must be at least "
            "1ms");
}

TEST(MeshLoaderTest, TracingIsCheckedByTheProxysOwnRules) {
  EXPECT_EQ(errorOf("settings:\n  tracing: {sampling_ratio: -1}\n"),
            "mesh/policy.yaml: settings.tracing.sampling_ratio: -1 is out of range (0 to 1: 0.01 "
            "samples 1% of new traces, 1 all of them)");
  EXPECT_THAT(errorOf("settings:\n  tracing: {accept: [W3C, W3C]}\n"),
              HasSubstr("mesh/policy.yaml: settings.tracing.accept[1]: W3C is listed twice"));
  EXPECT_TRUE(parseMesh(testing::demoSources(
                  "settings:\n  tracing: {sampling_ratio: 0.5, accept: [B3], keep_b3: false}\n"))
                  .ok());
}

TEST(MeshLoaderTest, RateLimitsAreCheckedByTheProxysOwnRules) {
  EXPECT_EQ(errorOf("traffic_policies:\n  - service: backend\n    rate_limit: {fill_interval: "
                    "1s}\n"),
            "mesh/policy.yaml: traffic_policies[0].rate_limit.max_tokens: required (at least 1: "
            "the burst allowed)");
  EXPECT_THAT(errorOf("traffic_policies:\n  - service: backend\n    routes:\n      - match: "
                      "{prefix: /}\n        rate_limit: {max_tokens: 5}\n"),
              HasSubstr("mesh/policy.yaml: traffic_policies[0].routes[0].rate_limit.fill_interval: "
                        "required"));
  EXPECT_EQ(errorOf("services: [{name: db, port: 5432, protocol: TCP}]\n"
                    "traffic_policies:\n  - service: db\n    rate_limit: {max_tokens: 5, "
                    "fill_interval: 1s}\n"),
            "mesh/policy.yaml: traffic_policies[0].rate_limit: service \"db\" is TCP: rate "
            "limits apply to HTTP and gRPC services only");
  EXPECT_TRUE(parseMesh(testing::demoSources("traffic_policies:\n  - service: backend\n    "
                                             "rate_limit: {max_tokens: 5, fill_interval: 1s, "
                                             "shadow: true}\n"))
                  .ok());
}

TEST(MeshLoaderTest, SchemaErrorsCarryTheFile) {
  EXPECT_THAT(errorOf("traffic_policies:\n  - service: backend\n    timeout: 5 seconds\n"),
              HasSubstr("mesh/policy.yaml: traffic_policies[0].timeout"));
  EXPECT_THAT(errorOf("traffic_policy: []\n"), HasSubstr("mesh/policy.yaml: "));
}

TEST(MeshLoaderTest, SemanticErrors) {
  EXPECT_THAT(errorOf(R"(
traffic_policies:
  - service: backend
    default_split: [{version: v1, weight: 0}, {version: v2, weight: 0}]
)"),
              HasSubstr("mesh/policy.yaml: traffic_policies[0].default_split: weights are all 0"));
  EXPECT_THAT(errorOf("traffic_policies: [{service: cart}]\n"),
              HasSubstr("traffic_policies[0].service: unknown service \"cart\""));
  EXPECT_THAT(errorOf(R"(
traffic_policies:
  - service: backend
    routes: [{match: {safe_regex: "(["}, split: [{version: v1, weight: 1}]}]
)"),
              HasSubstr("mesh/policy.yaml: traffic_policies[0].routes[0].match.safe_regex: "
                        "invalid regex"));
  EXPECT_THAT(errorOf("services: [{name: backend, port: 1}]\n"),
              HasSubstr("mesh/policy.yaml: services[0].name: duplicate service \"backend\" "
                        "(also mesh/services.yaml: services[1].name)"));
  EXPECT_THAT(errorOf("services: [{name: cart, port: 70000}]\n"),
              HasSubstr("mesh/policy.yaml: services[0].port: 70000 is out of range"));
  EXPECT_THAT(errorOf("workloads: [{name: w, service: cart, version: v1, app_port: 1, "
                      "instances: [{node: frontend-0}], calls: [nope]}]\n"),
              ::testing::AllOf(
                  HasSubstr("workloads[0].service: unknown service \"cart\""),
                  HasSubstr("workloads[0].instances[0].node: duplicate node id \"frontend-0\" "
                            "(also mesh/workloads.yaml: workloads[0].instances[0].node)"),
                  HasSubstr("workloads[0].calls[0]: unknown service \"nope\"")));
  EXPECT_THAT(errorOf("workloads: [{name: w, service: backend, version: v9, "
                      "instances: [{node: w-0}]}]\n"),
              HasSubstr("mesh/policy.yaml: workloads[0].app_port: required"));
}

class MeshDirTest : public ::testing::Test {
 protected:
  MeshDirTest() {
    dir_ = testing::makeTestDir("skiff-mesh-");
  }
  ~MeshDirTest() override { std::filesystem::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }

  std::filesystem::path dir_;
};

TEST_F(MeshDirTest, ReadsYamlFilesSortedAndSkipsOthers) {
  write("b-workloads.yml", testing::kWorkloads);
  write("a-services.yaml", testing::kServices);
  write("c-policy.yaml", "# only a comment\n");
  write("notes.txt", "not yaml: [");
  write(".hidden.yaml", "not yaml: [");
  absl::StatusOr<mesh::v1::MeshFile> mesh = loadMeshDir(dir_.string());
  ASSERT_TRUE(mesh.ok()) << mesh.status();
  EXPECT_EQ(mesh->workloads_size(), 4);
}

TEST_F(MeshDirTest, ErrorsNameTheFileInTheDirectory) {
  write("services.yaml", testing::kServices);
  write("workloads.yaml", "workloads: [{name: w, service: cart}]\n");
  absl::StatusOr<mesh::v1::MeshFile> mesh = loadMeshDir(dir_.string());
  ASSERT_FALSE(mesh.ok());
  EXPECT_THAT(mesh.status().message(),
              HasSubstr((dir_ / "workloads.yaml").string() +
                        ": workloads[0].service: unknown service \"cart\""));
}

TEST_F(MeshDirTest, EmptyOrMissingDirectoryIsRefused) {
  EXPECT_FALSE(loadMeshDir(dir_.string()).ok());
  EXPECT_FALSE(loadMeshDir((dir_ / "missing").string()).ok());
}

}  // namespace
}  // namespace skiff::control
