#pragma once

// The resources the discovery client holds, by type, and how one response changes them: each
// Any is decoded and validated on its own before anything changes, and the whole set turns
// into the DynamicSnapshot the server applies. No I/O, no threads: the stream thread owns one.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/any.pb.h"
#include "skiff/config/v1/cluster.pb.h"
#include "skiff/config/v1/listener.pb.h"
#include "skiff/config/v1/route.pb.h"
#include "xds/dynamic_snapshot.h"

namespace skiff::xds {

// The four type URLs in subscription order: clusters before their endpoints, routes before the
// listeners that use them, so a proxy never binds a listener whose routes are missing.
const std::vector<std::string>& subscriptionOrder();
// "Listener", "Cluster", ...: for logs and the `type` metric label.
std::string shortTypeName(const std::string& type_url);

struct IncomingResource {
  // Delta: the envelope's Resource.name, which must equal the resource's own name. SotW: unset.
  std::optional<std::string> name;
  std::string version;
  google::protobuf::Any resource;
};

class ResourceSet {
 public:
  // Delta (replace_all false): adds or replaces `resources`, then drops `removed`. SotW
  // (replace_all true): the type's set becomes exactly `resources`. Every resource is checked
  // first; on any error nothing changes and the status lists every bad resource.
  absl::Status update(const std::string& type_url, const std::vector<IncomingResource>& resources,
                      const std::vector<std::string>& removed, bool replace_all);

  // Name -> version of each resource of the type held (a delta reconnect's
  // initial_resource_versions).
  std::map<std::string, std::string> versions(const std::string& type_url) const;

  // Everything held, EDS endpoints merged into their clusters. A dynamic listener or cluster
  // named like a static one is an error.
  absl::StatusOr<DynamicSnapshot> snapshot(const std::set<std::string>& static_listeners,
                                           const std::set<std::string>& static_clusters) const;

 private:
  std::map<std::string, config::v1::Listener> listeners_;
  std::map<std::string, config::v1::RouteConfiguration> routes_;
  std::map<std::string, config::v1::Cluster> clusters_;
  std::map<std::string, config::v1::ClusterLoadAssignment> assignments_;
  std::map<std::string, std::map<std::string, std::string>> versions_;  // type -> name -> version
};

}  // namespace skiff::xds
