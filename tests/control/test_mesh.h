#pragma once

// The demo mesh (examples/mesh) in one string, for the control plane's unit tests.

#include <unistd.h>

#include <filesystem>
#include <string>

#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "mesh_loader.h"

namespace skiff::control::testing {

inline constexpr char kServices[] = R"(
services:
  - {name: frontend, port: 8080}
  - {name: backend, port: 8080}
  - {name: billing, port: 9090, protocol: GRPC, namespace: pay}
)";

inline constexpr char kWorkloads[] = R"(
workloads:
  - name: frontend
    service: frontend
    version: v1
    app_port: 18180
    inbound_port: 15106
    outbound_port: 15101
    calls: [backend]
    instances: [{node: frontend-0}]
  - name: backend-v1
    service: backend
    version: v1
    app_port: 18181
    inbound_port: 15206
    outbound_port: 15201
    instances: [{node: backend-v1-0, address: 10.0.0.1, weight: 3}]
  - name: backend-v2
    service: backend
    version: v2
    app_port: 18182
    instances: [{node: backend-v2-0, address: 10.0.0.2, inbound_port: 15306}]
  - name: billing
    service: billing
    version: v1
    app_port: 18183
    instances: [{node: billing-0}]
)";

inline constexpr char kPolicy[] = R"(
traffic_policies:
  - service: backend
    timeout: 5s
    routes:
      - name: canary
        match: {prefix: /api, headers: [{name: x-canary, exact_match: "1"}]}
        split: [{version: v2, weight: 100}]
        prefix_rewrite: /v2/api
    default_split: [{version: v1, weight: 100}, {version: v2, weight: 0}]
)";

// The three files, with `policy` replacing the policy file's text.
inline std::vector<MeshSource> demoSources(const std::string& policy = kPolicy) {
  return {{"mesh/services.yaml", kServices},
          {"mesh/workloads.yaml", kWorkloads},
          {"mesh/policy.yaml", policy}};
}

inline mesh::v1::MeshFile demoMesh(const std::string& policy = kPolicy) {
  absl::StatusOr<mesh::v1::MeshFile> mesh = parseMesh(demoSources(policy));
  EXPECT_TRUE(mesh.ok()) << mesh.status();
  return mesh.ok() ? *mesh : mesh::v1::MeshFile();
}

// A fresh directory named after the running test (removed by the caller).
inline std::filesystem::path makeTestDir(const std::string& prefix) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      (prefix + std::to_string(getpid()) + "-" +
       ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace skiff::control::testing
