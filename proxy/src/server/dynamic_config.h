#pragma once

// Applies a snapshot from the discovery stream, all or nothing: first everything that can
// fail (route tables compiled, clusters built, listener sockets bound), then, only if every
// step succeeded, publication to the workers in dependency order (clusters, routes,
// listeners) through their post() queues. An error leaves the running config untouched
// (sockets bound for it are closed) and is the NACK's text.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "server/listener_manager.h"
#include "server/worker.h"
#include "skiff/config/v1/route.pb.h"
#include "upstream/cluster_manager.h"
#include "xds/dynamic_snapshot.h"

namespace skiff::server {

class DynamicConfig {
 public:
  // `workers` is read at each apply (the server creates its workers after this object).
  DynamicConfig(upstream::ClusterManager& clusters, ListenerManager& listeners,
                const std::vector<std::unique_ptr<Worker>>& workers);

  absl::Status apply(const xds::DynamicSnapshot& snapshot);

  // The last snapshot applied (empty before the first), for /config_dump.
  const xds::DynamicSnapshot& current() const { return current_; }
  bool appliedOnce() const { return applied_once_; }

 private:
  absl::StatusOr<std::shared_ptr<const RouteTableMap>> compileRoutes(
      const std::map<std::string, config::v1::RouteConfiguration>& configs) const;

  upstream::ClusterManager& clusters_;
  ListenerManager& listeners_;
  const std::vector<std::unique_ptr<Worker>>& workers_;
  xds::DynamicSnapshot current_;
  std::shared_ptr<const RouteTableMap> routes_ = std::make_shared<RouteTableMap>();
  bool applied_once_ = false;
};

}  // namespace skiff::server
