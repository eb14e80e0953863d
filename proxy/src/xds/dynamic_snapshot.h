#pragma once

// The contract between the discovery client (proxy/src/xds/) and the server
// (proxy/src/server/): the complete set of resources the control plane currently gives this
// proxy, each already validated on its own. The server applies a snapshot as a whole or not at
// all; its error becomes the NACK's text.

#include <map>
#include <string>

#include "skiff/config/v1/cluster.pb.h"
#include "skiff/config/v1/listener.pb.h"
#include "skiff/config/v1/route.pb.h"

namespace skiff::xds {

inline constexpr char kListenerType[] = "type.googleapis.com/skiff.config.v1.Listener";
inline constexpr char kRouteType[] = "type.googleapis.com/skiff.config.v1.RouteConfiguration";
inline constexpr char kClusterType[] = "type.googleapis.com/skiff.config.v1.Cluster";
inline constexpr char kEndpointType[] =
    "type.googleapis.com/skiff.config.v1.ClusterLoadAssignment";

struct DynamicSnapshot {
  // By resource name. Listeners using `http.rds` name a RouteConfiguration of `routes`; a
  // listener whose route configuration has not arrived yet is warming and not bound.
  std::map<std::string, config::v1::Listener> listeners;
  std::map<std::string, config::v1::RouteConfiguration> routes;
  // EDS clusters (type EDS) carry their ClusterLoadAssignment's endpoints in `endpoints`
  // (empty until it arrives: the cluster exists with no hosts, requests get 503 UH).
  std::map<std::string, config::v1::Cluster> clusters;
  // Every ClusterLoadAssignment held, by cluster name: already merged into the EDS clusters
  // above, and the source of endpoints for EDS clusters of the static bootstrap.
  std::map<std::string, config::v1::ClusterLoadAssignment> assignments;
  // Version last applied per type URL, for /config_dump.
  std::map<std::string, std::string> versions;
};

}  // namespace skiff::xds
