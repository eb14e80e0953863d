#pragma once

// Translation of the mesh into one proxy's resources (the contract in docs/xds.md, "What a
// proxy receives"), and the immutable snapshot the discovery server serves. Every resource is
// versioned by a stable hash of its deterministic serialization, so an unchanged resource keeps
// its version across reloads and restarts and is not resent.

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "skiff/config/v1/common.pb.h"
#include "skiff/discovery/v1/discovery.pb.h"
#include "skiff/mesh/v1/mesh.pb.h"
#include "xds/dynamic_snapshot.h"

namespace skiff::control {

// The order changes are pushed in: what a resource names arrives before the resource.
inline const std::array<std::string, 4> kPushOrder = {xds::kClusterType, xds::kEndpointType,
                                                      xds::kRouteType, xds::kListenerType};

// The outbound listener's tcp_fallback: an ORIGINAL_DST cluster, so intercepted traffic to
// destinations outside the mesh still reaches them.
inline constexpr char kPassthroughCluster[] = "passthrough";

// Hex of the stable 64-bit hash.
std::string stableHash(const std::string& bytes);

// A type's version for one proxy: the hash of its (name, version) pairs. Used as the state of
// the world version_info and as TypeStatus versions on both stream types.
std::string typeVersion(const std::map<std::string, std::string>& versions_by_name);

struct TypeResources {
  std::string version;
  std::map<std::string, discovery::v1::Resource> by_name;
};

struct NodeResources {
  // The workload the node resolved to; "" when it resolved to nothing (no resources).
  std::string workload;
  // True when the node id names an instance (not only a workload's defaults).
  bool instance_found = false;
  std::map<std::string, TypeResources> by_type;  // every type of kPushOrder is present

  const TypeResources& type(const std::string& type_url) const { return by_type.at(type_url); }
};

// What a proxy with `node` receives from `mesh` (a validated mesh).
NodeResources translate(const mesh::v1::MeshFile& mesh, const config::v1::Node& node);

// One accepted mesh and its version, with the per-node translation computed once and shared by
// every stream of the same node (a thousand proxies of one workload cost one translation).
class MeshSnapshot {
 public:
  explicit MeshSnapshot(mesh::v1::MeshFile mesh);

  const std::string& version() const { return version_; }
  const mesh::v1::MeshFile& mesh() const { return mesh_; }
  // Thread-safe.
  std::shared_ptr<const NodeResources> resourcesFor(const config::v1::Node& node) const;

 private:
  const mesh::v1::MeshFile mesh_;
  const std::string version_;
  mutable std::mutex cache_mutex_;
  mutable std::map<std::pair<std::string, std::string>, std::shared_ptr<const NodeResources>>
      cache_;
};

}  // namespace skiff::control
