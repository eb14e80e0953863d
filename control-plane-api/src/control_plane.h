#pragma once

// skiff-control assembled: the mesh directory (loaded, watched, reloaded), the discovery
// server and the status API on one gRPC server. main() only parses flags and waits for a
// signal; tests start the same object on port 0.

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "discovery_server.h"
#include "grpcpp/server.h"
#include "mesh_watcher.h"
#include "status_service.h"

namespace skiff::control {

struct ControlPlaneOptions {
  std::string config_dir;
  std::string listen = "127.0.0.1:15010";
  std::chrono::milliseconds debounce{20};
};

class ControlPlane {
 public:
  explicit ControlPlane(ControlPlaneOptions options);
  ~ControlPlane();

  // Loads the mesh (its error is returned as is, "FILE: field: reason"), binds, starts the
  // watcher.
  absl::Status start();
  // Cancels every stream and stops the watcher.
  void stop();

  // Reads the directory again: a refused mesh keeps the last good one (error logged and
  // reported by the status API); an accepted one is pushed to every proxy that it changes.
  void reload();

  int port() const { return port_; }
  DiscoveryServer& discovery() { return *discovery_; }

 private:
  const ControlPlaneOptions options_;
  std::unique_ptr<DiscoveryServer> discovery_;
  std::unique_ptr<StatusService> status_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<MeshWatcher> watcher_;
  int port_ = 0;
};

}  // namespace skiff::control
