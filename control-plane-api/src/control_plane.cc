#include "control_plane.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "mesh_loader.h"

namespace skiff::control {

ControlPlane::ControlPlane(ControlPlaneOptions options) : options_(std::move(options)) {}

ControlPlane::~ControlPlane() { stop(); }

absl::Status ControlPlane::start() {
  absl::StatusOr<mesh::v1::MeshFile> mesh = loadMeshDir(options_.config_dir);
  if (!mesh.ok()) return mesh.status();
  auto snapshot = std::make_shared<const MeshSnapshot>(*std::move(mesh));
  SKIFF_LOG(kInfo, "mesh loaded from %s: version %s", options_.config_dir, snapshot->version());
  discovery_ = std::make_unique<DiscoveryServer>(std::move(snapshot));
  status_ = std::make_unique<StatusService>(*discovery_);

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen, grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(discovery_.get());
  builder.RegisterService(status_.get());
  // Without this gRPC sets SO_REUSEPORT, and a second skiff-control on the same port would
  // start and take half of the proxies instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Proxies keep their stream for hours; keepalive pings find the ones that vanished.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    server_.reset();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen));
  }
  SKIFF_LOG(kInfo, "discovery and status API listening on %s (port %d)", options_.listen, port_);

  watcher_ = std::make_unique<MeshWatcher>(options_.config_dir, options_.debounce,
                                           [this] { reload(); });
  return watcher_->start();
}

void ControlPlane::stop() {
  if (watcher_) watcher_->stop();
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_->Wait();
    server_.reset();
  }
}

void ControlPlane::reload() {
  const auto started = std::chrono::steady_clock::now();
  absl::StatusOr<mesh::v1::MeshFile> mesh = loadMeshDir(options_.config_dir);
  if (!mesh.ok()) {
    discovery_->setMeshError(std::string(mesh.status().message()));
    SKIFF_LOG(kError, "mesh reload refused (still serving %s): %s",
              discovery_->current()->version(), mesh.status().message());
    return;
  }
  discovery_->setMeshError("");
  auto snapshot = std::make_shared<const MeshSnapshot>(*std::move(mesh));
  if (snapshot->version() == discovery_->current()->version()) {
    SKIFF_LOG(kDebug, "mesh reload: unchanged (version %s)", snapshot->version());
    return;
  }
  const std::string version = snapshot->version();
  size_t pushed = discovery_->publish(std::move(snapshot));
  const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started);
  SKIFF_LOG(kInfo, "mesh reload accepted: version %s, pushed to %d proxies (%.1f ms)", version,
            pushed, elapsed.count() / 1000.0);
}

}  // namespace skiff::control
