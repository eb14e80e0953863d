#pragma once

// Reads a bootstrap (YAML or JSON) into the proto schema and validates it. YAML goes through
// the protobuf JSON mapping, so the same messages can later arrive over xDS. Every error names
// the path of the bad field, e.g.
//   static_resources.clusters[0].connect_timeout: invalid duration "5 seconds"

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "skiff/config/v1/bootstrap.pb.h"

namespace skiff::config {

// YAML text into any message: unknown fields, wrong types and bad enum names are errors with
// their path.
absl::Status yamlToMessage(const std::string& yaml_text, google::protobuf::Message& out);

// yamlToMessage, then validateBootstrap: a returned Bootstrap is already validated.
absl::StatusOr<v1::Bootstrap> parseBootstrapYaml(const std::string& yaml_text);
// As above, with the file name in error messages ("FILE: path: reason"). A missing file is
// NotFound; every other error is InvalidArgument.
absl::StatusOr<v1::Bootstrap> loadBootstrapFile(const std::string& path);

// Semantic checks across the whole bootstrap: listener and cluster names present and unique,
// node.id and ads_address ("host:port") when dynamic_resources is set, EDS clusters only with
// dynamic_resources and without endpoints,
// ports 1..65535 (listeners may use 0 for "any"), addresses that parse, every referenced cluster
// defined, weights, regexes that compile, durations non-negative, one handler per listener.
// Reports every problem (in document order, at most 20) joined by "; ".
absl::Status validateBootstrap(const v1::Bootstrap& bootstrap);

// One resource from the discovery stream, validated on its own with the same rules as its
// static counterpart, except that cluster references are not checked (an unknown cluster is a
// 503 NC at run time) and a listener's `http.rds` is not resolved (its routes arrive later).
// Errors are prefixed by the resource, e.g.
//   listener "outbound": address.port: 70000 is out of range (0 to 65535)
// Route tables are compiled by the caller (router::RouteTable::create lives above this layer).
absl::Status validateListenerResource(const v1::Listener& listener);
absl::Status validateRouteConfigurationResource(const v1::RouteConfiguration& routes);
absl::Status validateClusterResource(const v1::Cluster& cluster);
absl::Status validateClusterLoadAssignmentResource(const v1::ClusterLoadAssignment& assignment);

}  // namespace skiff::config
