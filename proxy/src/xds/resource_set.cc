#include "xds/resource_set.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "config/bootstrap_loader.h"
#include "router/route_table.h"

namespace skiff::xds {
namespace {

const std::string& nameOf(const config::v1::Listener& r) { return r.name(); }
const std::string& nameOf(const config::v1::RouteConfiguration& r) { return r.name(); }
const std::string& nameOf(const config::v1::Cluster& r) { return r.name(); }
const std::string& nameOf(const config::v1::ClusterLoadAssignment& r) { return r.cluster_name(); }

absl::Status validate(const config::v1::Listener& r) {
  return config::validateListenerResource(r);
}
absl::Status validate(const config::v1::Cluster& r) { return config::validateClusterResource(r); }
absl::Status validate(const config::v1::ClusterLoadAssignment& r) {
  return config::validateClusterLoadAssignmentResource(r);
}
// Routes must also compile, so that the server's apply cannot fail on them; their cluster
// references stay unchecked (a missing cluster is a 503 NC at run time).
absl::Status validate(const config::v1::RouteConfiguration& r) {
  if (absl::Status status = config::validateRouteConfigurationResource(r); !status.ok()) {
    return status;
  }
  if (auto table = router::RouteTable::create(r); !table.ok()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "route configuration \"%s\": %s", absl::Utf8SafeCHexEscape(r.name()),
        std::string(table.status().message())));
  }
  return absl::OkStatus();
}

std::string quotedName(const std::string& name) {
  return absl::StrCat("\"", absl::Utf8SafeCHexEscape(name), "\"");
}

template <typename Message>
absl::Status updateMap(std::map<std::string, Message>& held,
                       std::map<std::string, std::string>& versions, const std::string& type_url,
                       const std::vector<IncomingResource>& resources,
                       const std::vector<std::string>& removed, bool replace_all) {
  std::vector<std::string> errors;
  std::map<std::string, std::pair<Message, std::string>> decoded;
  for (const IncomingResource& incoming : resources) {
    const std::string label = incoming.name ? quotedName(*incoming.name) : "in the response";
    Message message;
    if (incoming.resource.type_url() != type_url) {
      errors.push_back(absl::StrFormat("resource %s: type \"%s\" in a response of type \"%s\"",
                                       label, incoming.resource.type_url(), type_url));
      continue;
    }
    if (!incoming.resource.UnpackTo(&message)) {
      errors.push_back(absl::StrFormat("resource %s: cannot be decoded as %s", label, type_url));
      continue;
    }
    // A copy: the message is moved into `decoded` below, and a duplicate is destroyed there,
    // so a reference into it would dangle in the "sent twice" error.
    std::string name = nameOf(message);
    if (incoming.name && *incoming.name != name) {
      errors.push_back(absl::StrFormat("resource %s: carries a resource named %s", label,
                                       quotedName(name)));
      continue;
    }
    if (absl::Status status = validate(message); !status.ok()) {
      errors.emplace_back(status.message());
      continue;
    }
    if (decoded.count(name) > 0) {
      errors.push_back(absl::StrFormat("resource %s: sent twice in one response", quotedName(name)));
      continue;
    }
    decoded.emplace(std::move(name), std::make_pair(std::move(message), incoming.version));
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "; "));

  if (replace_all) {
    held.clear();
    versions.clear();
  }
  for (auto& [name, entry] : decoded) {
    held[name] = std::move(entry.first);
    versions[name] = std::move(entry.second);
  }
  for (const std::string& name : removed) {
    held.erase(name);
    versions.erase(name);
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<std::string>& subscriptionOrder() {
  static const std::vector<std::string> order = {kClusterType, kEndpointType, kRouteType,
                                                 kListenerType};
  return order;
}

std::string shortTypeName(const std::string& type_url) {
  const size_t dot = type_url.rfind('.');
  return dot == std::string::npos ? type_url : type_url.substr(dot + 1);
}

absl::Status ResourceSet::update(const std::string& type_url,
                                 const std::vector<IncomingResource>& resources,
                                 const std::vector<std::string>& removed, bool replace_all) {
  std::map<std::string, std::string>& versions = versions_[type_url];
  if (type_url == kListenerType) {
    return updateMap(listeners_, versions, type_url, resources, removed, replace_all);
  }
  if (type_url == kRouteType) {
    return updateMap(routes_, versions, type_url, resources, removed, replace_all);
  }
  if (type_url == kClusterType) {
    return updateMap(clusters_, versions, type_url, resources, removed, replace_all);
  }
  if (type_url == kEndpointType) {
    return updateMap(assignments_, versions, type_url, resources, removed, replace_all);
  }
  return absl::InvalidArgumentError(absl::StrFormat("unknown resource type \"%s\"", type_url));
}

std::map<std::string, std::string> ResourceSet::versions(const std::string& type_url) const {
  auto it = versions_.find(type_url);
  return it == versions_.end() ? std::map<std::string, std::string>() : it->second;
}

absl::StatusOr<DynamicSnapshot> ResourceSet::snapshot(
    const std::set<std::string>& static_listeners,
    const std::set<std::string>& static_clusters) const {
  std::vector<std::string> errors;
  for (const auto& [name, listener] : listeners_) {
    if (static_listeners.count(name) > 0) {
      errors.push_back(absl::StrFormat("listener %s: a static listener has that name",
                                       quotedName(name)));
    }
  }
  for (const auto& [name, cluster] : clusters_) {
    if (static_clusters.count(name) > 0) {
      errors.push_back(absl::StrFormat("cluster %s: a static cluster has that name",
                                       quotedName(name)));
    }
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "; "));

  DynamicSnapshot snapshot;
  snapshot.listeners = listeners_;
  snapshot.routes = routes_;
  snapshot.clusters = clusters_;
  snapshot.assignments = assignments_;
  for (auto& [name, cluster] : snapshot.clusters) {
    if (cluster.type() != config::v1::Cluster::EDS) continue;
    // An assignment for a cluster that does not exist (or is not EDS) is kept but unused, as
    // in Envoy: the cluster may arrive with the next response.
    if (auto it = assignments_.find(name); it != assignments_.end()) {
      *cluster.mutable_endpoints() = it->second.endpoints();
    }
  }
  return snapshot;
}

}  // namespace skiff::xds
