#pragma once

// The aggregated discovery service (both stream types) and the registry of connected proxies.
// Streams use gRPC's callback API: a stream is a reactor object, not a thread, so a thousand
// proxies cost a thousand small objects. A new mesh snapshot is pushed to every stream by the
// publishing thread (the mesh watcher); each stream serializes its own writes.
//
// Locking: registry_mutex_ (the set of streams) is taken before a stream's own mutex, never
// after; a stream leaves the registry in OnDone, so a stream the registry lists is alive.

#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "skiff/control/v1/status.pb.h"
#include "skiff/discovery/v1/discovery.grpc.pb.h"
#include "translator.h"

namespace skiff::control {

// What the registry needs from a stream of either type.
class ProxyStream {
 public:
  virtual ~ProxyStream() = default;
  // Pushes what changed for this proxy; true when at least one response was queued.
  virtual bool push(const std::shared_ptr<const MeshSnapshot>& snapshot) = 0;
  // Empty until the proxy's first request (which carries its node).
  virtual std::optional<control::v1::ProxyStatus> status() = 0;
};

class DiscoveryServer final : public discovery::v1::AggregatedDiscoveryService::CallbackService {
 public:
  explicit DiscoveryServer(std::shared_ptr<const MeshSnapshot> initial);

  // Makes `snapshot` current and pushes it to every stream. Returns how many proxies were sent
  // anything (a proxy whose resources did not change gets nothing).
  size_t publish(std::shared_ptr<const MeshSnapshot> snapshot);
  std::shared_ptr<const MeshSnapshot> current() const;

  // The last refused reload's error; "" once a reload succeeds.
  void setMeshError(const std::string& error);
  std::string meshError() const;

  // Connected proxies (those that sent their first request), sorted by node id.
  std::vector<control::v1::ProxyStatus> proxies();
  std::optional<config::v1::Node> connectedNode(const std::string& node_id);

  // Stream bookkeeping (called by the streams).
  void attach(ProxyStream* stream);
  void detach(ProxyStream* stream);

  grpc::ServerBidiReactor<discovery::v1::DiscoveryRequest, discovery::v1::DiscoveryResponse>*
  StreamAggregatedResources(grpc::CallbackServerContext* context) override;
  grpc::ServerBidiReactor<discovery::v1::DeltaDiscoveryRequest,
                          discovery::v1::DeltaDiscoveryResponse>*
  DeltaAggregatedResources(grpc::CallbackServerContext* context) override;

 private:
  mutable std::mutex state_mutex_;
  std::shared_ptr<const MeshSnapshot> current_;
  std::string mesh_error_;

  std::mutex registry_mutex_;
  std::set<ProxyStream*> streams_;
};

}  // namespace skiff::control
