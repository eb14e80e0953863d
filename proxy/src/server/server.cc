#include "server/server.h"

#include <csignal>

#include "absl/strings/str_cat.h"
#include "admin/config_dump.h"
#include "admin/identity_handlers.h"
#include "common/logging.h"
#include "config/defaults.h"
#include "config/duration.h"
#include "google/protobuf/struct.pb.h"
#include "router/route_table.h"

namespace skiff::server {
namespace {

constexpr std::chrono::milliseconds kDrainPollInterval{50};
constexpr std::chrono::milliseconds kQuitDrainTimeout{1000};
constexpr absl::Duration kDefaultInitialFetchTimeout = absl::Seconds(15);

google::protobuf::Value stringValue(const std::string& s) {
  google::protobuf::Value v;
  v.set_string_value(s);
  return v;
}

google::protobuf::Value boolValue(bool b) {
  google::protobuf::Value v;
  v.set_bool_value(b);
  return v;
}

google::protobuf::Value numberValue(double n) {
  google::protobuf::Value v;
  v.set_number_value(n);
  return v;
}

}  // namespace

absl::Status checkNoTlsWithoutIdentity(const xds::DynamicSnapshot& snapshot) {
  for (const auto& [name, listener] : snapshot.listeners) {
    if (listener.has_tls()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "listener \"", name, "\": tls: needs the bootstrap's identity (this proxy has none)"));
    }
  }
  for (const auto& [name, cluster] : snapshot.clusters) {
    if (cluster.has_tls()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cluster \"", name, "\": tls: needs the bootstrap's identity (this proxy has none)"));
    }
  }
  return absl::OkStatus();
}

absl::Status checkRouteTables(const config::v1::Bootstrap& bootstrap) {
  const auto& listeners = bootstrap.static_resources().listeners();
  for (int i = 0; i < listeners.size(); ++i) {
    if (!listeners[i].has_http() || listeners[i].http().has_rds()) continue;
    auto table = router::RouteTable::create(listeners[i].http().route_config());
    if (!table.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("static_resources.listeners[", i, "].http.route_config.",
                       table.status().message()));
    }
  }
  return absl::OkStatus();
}

Server::Server(config::v1::Bootstrap bootstrap, ServerOptions options)
    : bootstrap_(std::move(bootstrap)), options_(options) {
  drain_timeout_ = config::millisecondsOr(bootstrap_.has_drain_timeout(),
                                          bootstrap_.drain_timeout(),
                                          config::kDefaultDrainTimeout);
}

Server::~Server() {
  // The discovery and certificate clients post to the main loop from their own threads: they
  // go first.
  xds_client_.reset();
  identity_.reset();
  for (auto& worker : workers_) worker->stop();
  workers_.clear();
  admin_.reset();
  drain_timer_.reset();
  // Timers close their handle on the loop: they must go before the loop does.
  initial_fetch_timer_.reset();
  if (cluster_manager_) cluster_manager_->stopTimers();
  for (uv_signal_t* signal : signals_) {
    uv_close(reinterpret_cast<uv_handle_t*>(signal),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_signal_t*>(h); });
  }
  // The loop finishes its pending work (DNS answers included) while the cluster manager that
  // those callbacks point at still exists.
  main_.reset();
  cluster_manager_.reset();
}

absl::Status Server::run() {
  started_ = std::chrono::steady_clock::now();
  absl::Status status = start();
  if (!status.ok()) return status;
  main_->run();
  xds_client_.reset();
  identity_.reset();
  for (auto& worker : workers_) worker->stop();
  SKIFF_LOG(kInfo, "stopped");
  return absl::OkStatus();
}

absl::Status Server::start() {
  main_ = std::make_unique<event::Dispatcher>("main");
  int workers = std::max(1, options_.concurrency);
  registry_ = std::make_unique<stats::Registry>(workers + 1);
  stats::setThreadShard(workers);

  cluster_manager_ = std::make_unique<upstream::ClusterManager>(
      *main_, *registry_, [this](const upstream::ClusterManager::ClusterMap& clusters) {
        for (auto& worker : workers_) worker->updateClusters(clusters);
      });
  absl::Status status = cluster_manager_->addClusters(bootstrap_.static_resources().clusters());
  if (!status.ok()) return status;

  listener_manager_ = std::make_unique<ListenerManager>(*registry_, workers);
  auto per_worker = listener_manager_->bindStatic(bootstrap_.static_resources().listeners());
  if (!per_worker.ok()) return per_worker.status();
  dynamic_config_ = std::make_unique<DynamicConfig>(*cluster_manager_, *listener_manager_,
                                                    workers_);
  applies_ok_ = &registry_->counter("skiff_server_config_applies_total",
                                    "Dynamic configurations applied or rejected.",
                                    {{"result", "applied"}});
  applies_rejected_ = &registry_->counter("skiff_server_config_applies_total",
                                          "Dynamic configurations applied or rejected.",
                                          {{"result", "rejected"}});

  status = createIdentityManager();
  if (!status.ok()) return status;
  admin_ = std::make_unique<admin::AdminServer>(*main_);
  registerAdminHandlers();
  std::string admin_ip = config::kDefaultAdminAddress;
  uint32_t admin_port = config::kDefaultAdminPort;
  if (bootstrap_.has_admin() && bootstrap_.admin().has_address()) {
    admin_ip = bootstrap_.admin().address().address();
    admin_port = bootstrap_.admin().address().port();
  }
  auto admin_address = net::parseIpAndPort(admin_ip, static_cast<uint16_t>(admin_port));
  if (!admin_address.ok()) return admin_address.status();
  status = admin_->listen(*admin_address);
  if (!status.ok()) return absl::UnavailableError(absl::StrCat("admin: ", status.message()));

  registry_->gauge("skiff_server_workers", "Worker threads.", {}).add(workers);
  // Before the workers start, so a TLS listener never sees a connection without its identity.
  status = loadStaticIdentity();
  if (!status.ok()) return status;
  for (int i = 0; i < workers; ++i) {
    workers_.push_back(std::make_unique<Worker>(i));
    workers_.back()->updateTlsContext(tls_context_);
    workers_.back()->start(std::move((*per_worker)[i]), cluster_manager_->clusters());
  }

  for (int signum : {SIGTERM, SIGINT}) {
    auto* signal = new uv_signal_t;
    uv_signal_init(main_->loop(), signal);
    signal->data = this;
    uv_signal_start(
        signal,
        [](uv_signal_t* handle, int signum) {
          auto* self = static_cast<Server*>(handle->data);
          SKIFF_LOG(kInfo, "signal %d: draining for up to %d ms", signum,
                    static_cast<int>(self->drain_timeout_.count()));
          self->startDrain(self->drain_timeout_, true);
        },
        signum);
    signals_.push_back(signal);
  }
  std::signal(SIGPIPE, SIG_IGN);

  // Before onInitialized, which may call updateReady() at once (no DNS clusters).
  dynamic_initialized_ = !bootstrap_.has_dynamic_resources();
  identity_initialized_ = identity_ == nullptr;
  cluster_manager_->onInitialized([this] {
    clusters_initialized_ = true;
    updateReady();
  });
  if (identity_) identity_->start();
  if (bootstrap_.has_dynamic_resources()) startDiscovery();
  return absl::OkStatus();
}

absl::Status Server::createIdentityManager() {
  auto options = identity::IdentityManager::optionsFrom(bootstrap_);
  if (!options.ok()) return options.status();
  if (!options->has_value()) return absl::OkStatus();
  identity_ = std::make_unique<identity::IdentityManager>(
      *main_, *registry_, std::move(**options),
      [this](const tls::CertificateBundle& bundle) { return updateIdentity(bundle); },
      [this] {
        identity_initialized_ = true;
        updateReady();
      });
  return absl::OkStatus();
}

void Server::startDiscovery() {
  xds::XdsClientOptions options;
  options.node = bootstrap_.node();
  options.config = bootstrap_.dynamic_resources();
  for (const auto& listener : bootstrap_.static_resources().listeners()) {
    options.static_listener_names.insert(listener.name());
  }
  for (const auto& cluster : bootstrap_.static_resources().clusters()) {
    options.static_cluster_names.insert(cluster.name());
  }
  event::Dispatcher* main = main_.get();
  xds_client_ = std::make_unique<xds::XdsClient>(
      std::move(options), [main](std::function<void()> work) { main->post(std::move(work)); },
      [this](const xds::DynamicSnapshot& snapshot) { return applyDynamic(snapshot); },
      *registry_);
  xds_client_->start([this] {
    if (dynamic_initialized_) return;
    SKIFF_LOG(kInfo, "initial dynamic config applied");
    dynamic_initialized_ = true;
    updateReady();
  });
  const auto& dynamic = bootstrap_.dynamic_resources();
  initial_fetch_timer_ = main_->createTimer([this] {
    if (dynamic_initialized_) return;
    SKIFF_LOG(kWarn, "no complete dynamic config within initial_fetch_timeout: ready anyway");
    dynamic_initialized_ = true;
    updateReady();
  });
  initial_fetch_timer_->enable(config::millisecondsOr(dynamic.has_initial_fetch_timeout(),
                                                      dynamic.initial_fetch_timeout(),
                                                      kDefaultInitialFetchTimeout));
}

void Server::updateReady() {
  if (ready_ || !clusters_initialized_ || !dynamic_initialized_ || !identity_initialized_) return;
  ready_ = true;
  SKIFF_LOG(kInfo, "ready: %d workers, admin on %s", static_cast<int>(workers_.size()),
            admin_->boundAddress().toString());
}

absl::Status Server::loadStaticIdentity() {
  if (!bootstrap_.identity().has_static_certificate()) return absl::OkStatus();
  auto bundle = tls::loadStaticCertificate(bootstrap_.identity().static_certificate());
  if (!bundle.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("identity.static_certificate.", bundle.status().message()));
  }
  absl::Status status = updateIdentity(*bundle);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("identity.static_certificate: ", status.message()));
  }
  return absl::OkStatus();
}

absl::Status Server::updateIdentity(const tls::CertificateBundle& bundle) {
  auto context = tls::TlsContext::create(bundle);
  if (!context.ok()) return context.status();
  tls_context_ = *context;
  for (auto& worker : workers_) worker->updateTlsContext(tls_context_);
  auto& not_after = registry_->gauge("skiff_tls_certificate_not_after_seconds",
                                     "Expiry of the proxy's certificate (Unix time).", {});
  int64_t expiry = std::chrono::duration_cast<std::chrono::seconds>(
                       tls_context_->notAfter().time_since_epoch())
                       .count();
  not_after.add(expiry - not_after.value());
  registry_->counter("skiff_tls_identity_updates_total", "Certificates put in use.", {}).inc();
  SKIFF_LOG(kInfo, "identity %s (certificate serial %s) in use", tls_context_->identity(),
            tls_context_->serialHex());
  // Peers will refuse it, but a proxy that refused to start would be worse off (it could not
  // even serve plaintext listeners): say so loudly instead.
  if (tls_context_->notAfter() < std::chrono::system_clock::now()) {
    SKIFF_LOG(kWarn, "the certificate of %s has expired: peers will refuse mutual TLS",
              tls_context_->identity());
  }
  return absl::OkStatus();
}

absl::Status Server::applyDynamic(const xds::DynamicSnapshot& snapshot) {
  if (draining_) return absl::UnavailableError("draining: configuration changes are ignored");
  absl::Status status = absl::OkStatus();
  if (!bootstrap_.has_identity()) status = checkNoTlsWithoutIdentity(snapshot);
  if (status.ok()) status = dynamic_config_->apply(snapshot);
  if (status.ok()) {
    applies_ok_->inc();
  } else {
    applies_rejected_->inc();
    SKIFF_LOG(kWarn, "dynamic config rejected: %s", status.message());
  }
  return status;
}

void Server::registerAdminHandlers() {
  using admin::AdminResponse;
  admin_->addHandler("GET", "/ready", [this](const http::RequestHead&) {
    if (draining_) return AdminResponse{503, "text/plain", "DRAINING\n"};
    if (!ready_) return AdminResponse{503, "text/plain", "INITIALIZING\n"};
    return AdminResponse{200, "text/plain", "LIVE\n"};
  });
  admin_->addHandler("GET", "/stats/prometheus", [this](const http::RequestHead&) {
    auto& uptime = registry_->gauge("skiff_server_uptime_seconds",
                                    "Seconds since the server started.", {});
    int64_t seconds = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now() - started_)
                          .count();
    uptime.add(seconds - uptime.value());
    auto& draining = registry_->gauge("skiff_server_draining", "1 while draining.", {});
    draining.add((draining_ ? 1 : 0) - draining.value());
    return AdminResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                         registry_->renderPrometheus()};
  });
  admin_->addHandler("GET", "/config_dump", [this](const http::RequestHead&) {
    return AdminResponse{200, "application/json",
                         admin::renderConfigDump(bootstrap_,
                                                 xds_client_ ? &dynamic_config_->current() : nullptr,
                                                 listener_manager_->warming())};
  });
  admin_->addHandler("GET", "/clusters", [this](const http::RequestHead&) {
    google::protobuf::Struct root;
    auto* list = (*root.mutable_fields())["clusters"].mutable_list_value();
    std::vector<std::string> names;
    for (const auto& [name, info] : cluster_manager_->clusters()) names.push_back(name);
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      const upstream::ClusterInfo& info = *cluster_manager_->clusters().at(name);
      auto* cluster = list->add_values()->mutable_struct_value()->mutable_fields();
      (*cluster)["name"] = stringValue(name);
      (*cluster)["dynamic"] = boolValue(!cluster_manager_->isStatic(name));
      (*cluster)["type"] = stringValue(config::v1::Cluster::DiscoveryType_Name(info.config.type()));
      (*cluster)["lb_policy"] =
          stringValue(config::v1::Cluster::LbPolicy_Name(info.config.lb_policy()));
      auto* hosts = (*cluster)["hosts"].mutable_list_value();
      for (const auto& host : *info.hosts) {
        auto* h = hosts->add_values()->mutable_struct_value()->mutable_fields();
        (*h)["address"] = stringValue(host->address);
        (*h)["hostname"] = stringValue(host->hostname);
        (*h)["weight"] = numberValue(host->weight);
        (*h)["active_requests"] =
            numberValue(host->active_requests.load(std::memory_order_relaxed));
        // Outlier detection's view: "ejected" hosts get no new requests until they are back.
        bool ejected = info.outlier != nullptr && info.outlier->ejected(host->address);
        (*h)["health"] = stringValue(ejected ? "ejected" : "healthy");
        if (info.outlier != nullptr) {
          (*h)["ejections"] =
              numberValue(info.outlier->ejections().ejectionMultiplier(host->address));
        }
      }
      if (info.outlier != nullptr) {
        (*cluster)["hosts_ejected"] = numberValue(info.outlier->ejections().ejectedCount());
        // Past the panic threshold the balancer uses every host, ejected or not.
        (*cluster)["panic"] = boolValue(info.balanced_hosts == info.hosts &&
                                        info.outlier->ejections().ejectedCount() > 0);
      }
    }
    return AdminResponse{200, "application/json", admin::toJson(root) + "\n"};
  });
  admin_->addHandler("GET", "/listeners", [this](const http::RequestHead&) {
    google::protobuf::Struct root;
    auto* list = (*root.mutable_fields())["listeners"].mutable_list_value();
    for (const auto& listener : listener_manager_->listeners()) {
      auto* l = list->add_values()->mutable_struct_value()->mutable_fields();
      (*l)["name"] = stringValue(listener.name);
      (*l)["address"] = stringValue(listener.address.toString());
      (*l)["dynamic"] = boolValue(listener.dynamic);
    }
    auto* warming = (*root.mutable_fields())["warming"].mutable_list_value();
    for (const auto& name : listener_manager_->warming()) {
      *warming->add_values() = stringValue(name);
    }
    return AdminResponse{200, "application/json", admin::toJson(root) + "\n"};
  });
  admin::addIdentityHandlers(*admin_, identity_.get(), bootstrap_.identity());
  admin_->addHandler("POST", "/drain", [this](const http::RequestHead&) {
    startDrain(drain_timeout_, false);
    return AdminResponse{200, "text/plain", "draining\n"};
  });
  admin_->addHandler("POST", "/quitquitquit", [this](const http::RequestHead&) {
    startDrain(std::min(drain_timeout_, kQuitDrainTimeout), true);
    return AdminResponse{200, "text/plain", "exiting\n"};
  });
}

void Server::startDrain(std::chrono::milliseconds timeout, bool exit_after) {
  if (!draining_) {
    draining_ = true;
    for (auto& worker : workers_) worker->drain();
  }
  if (!exit_after || exiting_) return;
  exiting_ = true;
  drain_deadline_ = std::chrono::steady_clock::now() + timeout;
  drain_timer_ = main_->createTimer([this] {
    int open = 0;
    for (auto& worker : workers_) open += worker->activeConnections();
    if (open == 0 || std::chrono::steady_clock::now() >= drain_deadline_) {
      if (open > 0) SKIFF_LOG(kWarn, "drain timeout: closing %d connections", open);
      shutdown();
      return;
    }
    drain_timer_->enable(kDrainPollInterval);
  });
  drain_timer_->enable(kDrainPollInterval);
}

void Server::shutdown() { main_->exit(); }

}  // namespace skiff::server
