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

absl::Status ControlPlane::startCertificateService() {
  std::unique_ptr<ca::CertificateAuthority> authority;
  if (!options_.ca_cert.empty() || !options_.ca_key.empty()) {
    if (options_.ca_cert.empty() || options_.ca_key.empty()) {
      return absl::InvalidArgumentError("--ca-cert and --ca-key go together");
    }
    auto loaded =
        ca::CertificateAuthority::fromFiles(options_.ca_cert, options_.ca_key, options_.ca_chain);
    if (!loaded.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("CA: ", loaded.status().message()));
    }
    authority = *std::move(loaded);
  } else if (!options_.ca_dir.empty()) {
    bool generated = false;
    auto loaded = ca::CertificateAuthority::fromDirectory(options_.ca_dir, &generated);
    if (!loaded.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("CA: ", loaded.status().message()));
    }
    authority = *std::move(loaded);
    if (generated) {
      SKIFF_LOG(kWarn,
                "WARNING: generated a DEVELOPMENT certificate authority in %s (self-signed, "
                "key on local disk). Do not use it in production: pass --ca-cert/--ca-key",
                options_.ca_dir);
    }
  }
  if (authority) {
    authority->setMaxTtl(options_.max_cert_ttl);
    SKIFF_LOG(kInfo, "CA: signing as \"%s\", certificates capped at %ds", authority->subject(),
              static_cast<int>(options_.max_cert_ttl.count()));
  } else {
    SKIFF_LOG(kWarn, "CA: no --ca-dir or --ca-cert: the certificate service refuses every request");
  }
  std::optional<ca::TokenStore> tokens;
  if (!options_.token_dir.empty()) {
    tokens.emplace(options_.token_dir);
    SKIFF_LOG(kInfo, "CA: workload tokens from %s", options_.token_dir);
  } else if (authority) {
    SKIFF_LOG(kWarn, "CA: no --token-dir: the certificate service refuses every request");
  }
  DiscoveryServer* discovery = discovery_.get();
  certificates_ = std::make_unique<ca::CertificateService>(
      std::move(authority), std::move(tokens), [discovery] {
        std::shared_ptr<const MeshSnapshot> snapshot = discovery->current();
        // Aliasing: the mesh lives as long as the snapshot holding it.
        return std::shared_ptr<const mesh::v1::MeshFile>(snapshot, &snapshot->mesh());
      });
  return absl::OkStatus();
}

absl::Status ControlPlane::start() {
  absl::StatusOr<mesh::v1::MeshFile> mesh = loadMeshDir(options_.config_dir);
  if (!mesh.ok()) return mesh.status();
  auto snapshot = std::make_shared<const MeshSnapshot>(*std::move(mesh));
  SKIFF_LOG(kInfo, "mesh loaded from %s: version %s", options_.config_dir, snapshot->version());
  discovery_ = std::make_unique<DiscoveryServer>(std::move(snapshot));
  status_ = std::make_unique<StatusService>(*discovery_);
  absl::Status ca_status = startCertificateService();
  if (!ca_status.ok()) return ca_status;

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen, grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(discovery_.get());
  builder.RegisterService(status_.get());
  builder.RegisterService(certificates_.get());
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
  SKIFF_LOG(kInfo, "discovery, status API and certificate service listening on %s (port %d)",
            options_.listen, port_);

  watcher_ =
      std::make_unique<MeshWatcher>(options_.config_dir, options_.debounce, [this] { reload(); });
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
