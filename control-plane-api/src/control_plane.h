#pragma once

// skiff-control assembled: the mesh directory (loaded, watched, reloaded), the discovery
// server, the status API and the certificate service on one gRPC server. main() only parses flags and waits for a
// signal; tests start the same object on port 0.

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "ca/certificate_service.h"
#include "discovery_server.h"
#include "grpcpp/server.h"
#include "mesh_watcher.h"
#include "status_service.h"

namespace skiff::control {

struct ControlPlaneOptions {
  std::string config_dir;
  std::string listen = "127.0.0.1:15010";
  std::chrono::milliseconds debounce{20};
  // The certificate authority (docs/identity.md): --ca-cert/--ca-key[/--ca-chain] files, or
  // --ca-dir (a development root generated there on first start). Neither: no CA, and the
  // certificate service refuses every request (proxies with an identity never become ready).
  std::string ca_cert;
  std::string ca_key;
  std::string ca_chain;
  std::string ca_dir;
  // One token file per workload; empty: the certificate service refuses every request.
  std::string token_dir;
  std::chrono::seconds max_cert_ttl = ca::kDefaultMaxCertificateTtl;
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
  ca::CertificateService& certificates() { return *certificates_; }

 private:
  // Loads the CA named by the options (or none) and builds the certificate service.
  absl::Status startCertificateService();

  const ControlPlaneOptions options_;
  std::unique_ptr<DiscoveryServer> discovery_;
  std::unique_ptr<StatusService> status_;
  std::unique_ptr<ca::CertificateService> certificates_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<MeshWatcher> watcher_;
  int port_ = 0;
};

}  // namespace skiff::control
