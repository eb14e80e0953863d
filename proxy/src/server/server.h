#pragma once

// The server: the main thread. It compiles the bootstrap into listener and cluster settings,
// binds the listening sockets, starts the workers, runs the admin server, resolves DNS, runs
// the discovery client (applying what it delivers through DynamicConfig), handles signals and
// drains on the way out.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "admin/admin_server.h"
#include "event/dispatcher.h"
#include "identity/identity_manager.h"
#include "server/dynamic_config.h"
#include "server/listener_manager.h"
#include "server/worker.h"
#include "skiff/config/v1/bootstrap.pb.h"
#include "stats/stats.h"
#include "tls/certificate_bundle.h"
#include "tls/tls_context.h"
#include "upstream/cluster_manager.h"
#include "xds/dynamic_snapshot.h"
#include "xds/xds_client.h"

namespace skiff::server {

struct ServerOptions {
  int concurrency = 1;
};

// Compiles what can be checked without binding anything: the route tables. Used by --validate
// and at startup, after config::validateBootstrap.
absl::Status checkRouteTables(const config::v1::Bootstrap& bootstrap);

// Mutual TLS needs a certificate: for a proxy whose bootstrap has no `identity`, a dynamic
// listener or cluster with `tls` is an error naming it (the NACK's text; static ones fail
// validation the same way).
absl::Status checkNoTlsWithoutIdentity(const xds::DynamicSnapshot& snapshot);

class Server {
 public:
  Server(config::v1::Bootstrap bootstrap, ServerOptions options);
  ~Server();

  // Binds everything and serves until drained by a signal or the admin API. An error means the
  // server could not start (nothing is left running).
  absl::Status run();

  // Main thread. Applies the discovery stream's resources, all or nothing; the error is the
  // NACK's text.
  absl::Status applyDynamic(const xds::DynamicSnapshot& snapshot);

  // Main thread. Builds new SSL contexts from `bundle` and publishes them to every worker: new
  // connections use them, open connections keep theirs. An error leaves the current ones.
  absl::Status updateIdentity(const tls::CertificateBundle& bundle);

 private:
  absl::Status start();
  void startDiscovery();
  // Loads identity.static_certificate, if that is the bootstrap's identity.
  absl::Status loadStaticIdentity();
  // With identity.certificate_authority: the manager that obtains and renews the certificate
  // (created before the admin handlers, started once the workers run).
  absl::Status createIdentityManager();
  void registerAdminHandlers();
  // /ready turns 200 when DNS clusters have answered and the first dynamic config is in (or
  // its initial_fetch_timeout passed).
  void updateReady();
  void startDrain(std::chrono::milliseconds timeout, bool exit_after);
  void shutdown();

  config::v1::Bootstrap bootstrap_;
  ServerOptions options_;
  std::chrono::milliseconds drain_timeout_{10000};
  std::chrono::steady_clock::time_point started_;
  std::unique_ptr<event::Dispatcher> main_;
  std::unique_ptr<stats::Registry> registry_;
  std::unique_ptr<upstream::ClusterManager> cluster_manager_;
  std::unique_ptr<ListenerManager> listener_manager_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<DynamicConfig> dynamic_config_;
  std::unique_ptr<xds::XdsClient> xds_client_;
  std::unique_ptr<identity::IdentityManager> identity_;
  std::unique_ptr<event::Timer> initial_fetch_timer_;
  std::unique_ptr<admin::AdminServer> admin_;
  std::vector<uv_signal_t*> signals_;
  std::unique_ptr<event::Timer> drain_timer_;
  std::chrono::steady_clock::time_point drain_deadline_;
  stats::Counter* applies_ok_ = nullptr;
  stats::Counter* applies_rejected_ = nullptr;
  tls::TlsContextConstSharedPtr tls_context_;  // the newest; workers hold their own pointers
  bool clusters_initialized_ = false;
  bool dynamic_initialized_ = false;  // the first dynamic config is in (or not awaited)
  bool identity_initialized_ = false;  // the first CA certificate is in (or not awaited)
  bool ready_ = false;
  bool draining_ = false;
  bool exiting_ = false;
};

}  // namespace skiff::server
