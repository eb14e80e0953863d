#pragma once

// skiff.control.v1.ControlStatus on the discovery server's port: connected proxies with their
// per-type ACK/NACK state, and what a node or workload receives (used by `skiffctl`).

#include "absl/status/statusor.h"
#include "discovery_server.h"
#include "skiff/control/v1/status.grpc.pb.h"

namespace skiff::control {

// What `node` (a connected proxy's node id, or an instance's node id, or a workload name)
// receives from `snapshot`, in push order. NotFound when it resolves to nothing.
absl::StatusOr<control::v1::ConfigDumpResponse> configDump(DiscoveryServer& server,
                                                           const std::string& node);

class StatusService final : public control::v1::ControlStatus::CallbackService {
 public:
  explicit StatusService(DiscoveryServer& server) : server_(server) {}

  grpc::ServerUnaryReactor* ListProxies(grpc::CallbackServerContext* context,
                                        const control::v1::ListProxiesRequest* request,
                                        control::v1::ListProxiesResponse* response) override;
  grpc::ServerUnaryReactor* ConfigDump(grpc::CallbackServerContext* context,
                                       const control::v1::ConfigDumpRequest* request,
                                       control::v1::ConfigDumpResponse* response) override;

 private:
  DiscoveryServer& server_;
};

}  // namespace skiff::control
