#pragma once

// One simulated proxy: an ADS stream (delta or state of the world) on the gRPC callback API,
// so a thousand of them share gRPC's small thread pool. It subscribes to every resource type
// (wildcard), ACKs every response and reports each ACK to the LoadTracker once written.

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "load_tracker.h"
#include "skiff/config/v1/common.pb.h"
#include "skiff/discovery/v1/discovery.grpc.pb.h"

namespace skiff::cli {

enum class StreamKind { kDelta, kStateOfTheWorld };

// The four types a proxy subscribes to, in push order.
const std::vector<std::string>& subscribedTypes();

class SimulatedProxy {
 public:
  virtual ~SimulatedProxy() = default;
  // Opens the stream and sends the first request of every type.
  virtual void start() = 0;
  // Cancels the stream; waitDone() returns once gRPC has finished with it.
  virtual void cancel() = 0;
  virtual void waitDone() = 0;
};

std::unique_ptr<SimulatedProxy> makeSimulatedProxy(
    StreamKind kind, discovery::v1::AggregatedDiscoveryService::Stub& stub,
    config::v1::Node node, size_t index, LoadTracker& tracker);

}  // namespace skiff::cli
