#include "server/dynamic_config.h"

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "google/protobuf/util/message_differencer.h"

namespace skiff::server {

DynamicConfig::DynamicConfig(upstream::ClusterManager& clusters, ListenerManager& listeners,
                             const std::vector<std::unique_ptr<Worker>>& workers)
    : clusters_(clusters), listeners_(listeners), workers_(workers) {}

absl::StatusOr<std::shared_ptr<const RouteTableMap>> DynamicConfig::compileRoutes(
    const std::map<std::string, config::v1::RouteConfiguration>& configs) const {
  auto tables = std::make_shared<RouteTableMap>();
  for (const auto& [name, config] : configs) {
    // An unchanged configuration keeps its compiled table.
    auto previous = current_.routes.find(name);
    if (previous != current_.routes.end() &&
        google::protobuf::util::MessageDifferencer::Equals(previous->second, config)) {
      (*tables)[name] = routes_->at(name);
      continue;
    }
    auto table = router::RouteTable::create(config);
    if (!table.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("route_config ", name, ": ", table.status().message()));
    }
    (*tables)[name] = std::move(*table);
  }
  return std::shared_ptr<const RouteTableMap>(std::move(tables));
}

absl::Status DynamicConfig::apply(const xds::DynamicSnapshot& snapshot) {
  auto routes = compileRoutes(snapshot.routes);
  if (!routes.ok()) return routes.status();
  auto clusters = clusters_.prepareDynamic(snapshot.clusters);
  if (!clusters.ok()) return clusters.status();
  auto listeners = listeners_.prepareDynamic(
      snapshot.listeners, [&](const std::string& name) { return (*routes)->contains(name); });
  if (!listeners.ok()) return listeners.status();

  // Nothing below can fail. Each worker runs its posts in order, so it never sees a listener
  // before its routes, nor a route before its clusters.
  std::vector<Worker*> workers;
  for (const auto& worker : workers_) workers.push_back(worker.get());
  clusters_.commitDynamic(std::move(*clusters));
  routes_ = std::move(*routes);
  for (Worker* worker : workers) worker->updateRoutes(routes_);
  listeners_.commitDynamic(std::move(*listeners), workers);
  current_ = snapshot;
  applied_once_ = true;
  SKIFF_LOG(kInfo, "dynamic config applied: %d listeners (%d warming), %d routes, %d clusters",
            static_cast<int>(snapshot.listeners.size()),
            static_cast<int>(listeners_.warming().size()),
            static_cast<int>(snapshot.routes.size()), static_cast<int>(snapshot.clusters.size()));
  return absl::OkStatus();
}

}  // namespace skiff::server
