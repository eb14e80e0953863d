#pragma once

// The mesh source: a directory of YAML files (skiff.mesh.v1.MeshFile each), parsed, merged in
// file-name order and validated as a whole. Every error reads "FILE: field.path: reason", with
// the field path inside that file, e.g.
//   examples/mesh/policy.yaml: traffic_policies[0].default_split[1].version: service "backend"
//   has no version "v3"
// A directory with any error is refused as a whole (the caller keeps its last good mesh).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "skiff/mesh/v1/mesh.pb.h"

namespace skiff::control {

inline constexpr uint32_t kDefaultInboundPort = 15006;
inline constexpr uint32_t kDefaultOutboundPort = 15001;
inline constexpr char kDefaultNamespace[] = "default";
inline constexpr char kDefaultInstanceAddress[] = "127.0.0.1";
inline constexpr char kDefaultTrustDomain[] = "cluster.local";

// One file's name (as it appears in errors) and its YAML text.
struct MeshSource {
  std::string file;
  std::string yaml;
};

// The mTLS mode other proxies meet at a workload's inbound listener: they dial its inbound
// port, which follows the application port's override (port_mtls[app_port]), else the
// workload's `mtls`, else the settings' `mtls`, else PERMISSIVE.
config::v1::MtlsMode meshCallerMode(const mesh::v1::MeshSettings& settings,
                                    const mesh::v1::Workload& workload);

// Parses every source, merges them in the given order and validates the result.
absl::StatusOr<mesh::v1::MeshFile> parseMesh(const std::vector<MeshSource>& sources);

// Reads every *.yaml / *.yml file of `dir` (sorted by name; hidden files skipped) and parses
// them with parseMesh. A directory without mesh files is an error.
absl::StatusOr<mesh::v1::MeshFile> loadMeshDir(const std::string& dir);

// True for the file names loadMeshDir reads (the watcher reloads only when one changes).
bool isMeshFileName(const std::string& name);

}  // namespace skiff::control
