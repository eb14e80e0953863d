#pragma once

// /config_dump: the bootstrap as loaded, plus the resources the discovery stream delivered
// (with the version last applied per type), as JSON through the protobuf JSON mapping.

#include <set>
#include <string>

#include "google/protobuf/message.h"
#include "skiff/config/v1/bootstrap.pb.h"
#include "xds/dynamic_snapshot.h"

namespace skiff::admin {

// Any message as indented JSON (protobuf JSON mapping, proto field names), as admin pages show.
std::string toJson(const google::protobuf::Message& message);

// The bootstrap's own fields at the top level (as before dynamic resources existed), and under
// "dynamic_active_resources": versions, listeners, route_configs, clusters, warming_listeners.
std::string renderConfigDump(const config::v1::Bootstrap& bootstrap,
                             const xds::DynamicSnapshot* dynamic,
                             const std::set<std::string>& warming_listeners);

}  // namespace skiff::admin
