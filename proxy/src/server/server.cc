#include "server/server.h"

#include <csignal>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "config/defaults.h"
#include "config/duration.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "router/route_table.h"

namespace skiff::server {
namespace {

constexpr std::chrono::milliseconds kDrainPollInterval{50};
constexpr std::chrono::milliseconds kQuitDrainTimeout{1000};


std::string toJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

google::protobuf::Value stringValue(const std::string& s) {
  google::protobuf::Value v;
  v.set_string_value(s);
  return v;
}

google::protobuf::Value numberValue(double n) {
  google::protobuf::Value v;
  v.set_number_value(n);
  return v;
}

}  // namespace

absl::Status checkRouteTables(const config::v1::Bootstrap& bootstrap) {
  const auto& listeners = bootstrap.static_resources().listeners();
  for (int i = 0; i < listeners.size(); ++i) {
    if (!listeners[i].has_http()) continue;
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
  for (auto& worker : workers_) worker->stop();
  workers_.clear();
  admin_.reset();
  drain_timer_.reset();
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

  std::vector<std::vector<WorkerListener>> per_worker(workers);
  status = buildListeners(per_worker);
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
  for (int i = 0; i < workers; ++i) {
    workers_.push_back(std::make_unique<Worker>(i));
    workers_.back()->start(std::move(per_worker[i]), cluster_manager_->clusters());
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

  cluster_manager_->onInitialized([this] {
    ready_ = true;
    SKIFF_LOG(kInfo, "ready: %d workers, admin on %s", static_cast<int>(workers_.size()),
              admin_->boundAddress().toString());
  });
  return absl::OkStatus();
}

absl::Status Server::buildListeners(std::vector<std::vector<WorkerListener>>& per_worker) {
  absl::flat_hash_map<std::string, std::shared_ptr<access_log::Sink>> sinks;
  auto openSink = [&](const config::v1::AccessLog& config)
      -> absl::StatusOr<std::shared_ptr<access_log::Sink>> {
    if (config.path().empty()) return std::shared_ptr<access_log::Sink>();
    auto& sink = sinks[config.path()];
    if (!sink) {
      auto opened = access_log::Sink::open(config.path());
      if (!opened.ok()) return opened.status();
      sink = *opened;
    }
    return sink;
  };

  for (const auto& listener : bootstrap_.static_resources().listeners()) {
    listener_stats_.push_back(std::make_unique<http::ListenerStats>(
        http::ListenerStats::create(*registry_, listener.name())));
    http::ListenerStats* stats = listener_stats_.back().get();

    std::shared_ptr<const http::HttpListenerConfig> http_config;
    std::shared_ptr<const filters::TcpProxyConfig> tcp_config;
    if (listener.has_http()) {
      const auto& hcm = listener.http();
      auto config = std::make_shared<http::HttpListenerConfig>();
      config->name = listener.name();
      auto routes = router::RouteTable::create(hcm.route_config());
      if (!routes.ok()) return routes.status();
      config->routes = *routes;
      uint32_t headers_kb = hcm.max_request_headers_kb() > 0 ? hcm.max_request_headers_kb()
                                                              : config::kDefaultMaxRequestHeadersKb;
      config->limits.max_header_bytes = headers_kb * 1024;
      config->limits.max_body_bytes = hcm.max_request_body_bytes();
      config->idle_timeout = config::millisecondsOr(hcm.has_idle_timeout(), hcm.idle_timeout(),
                                                    config::kDefaultHttpIdleTimeout);
      auto sink = openSink(hcm.access_log());
      if (!sink.ok()) return sink.status();
      config->access_log = *sink;
      config->stats = stats;
      config->codec_type = hcm.codec_type();
      config->http2 = hcm.http2();
      http_config = std::move(config);
    }
    // The L4 handler, or the fallback of an HTTP listener for connections that are not HTTP.
    std::shared_ptr<const filters::TcpProxyConfig> tcp_fallback;
    if (listener.has_tcp_proxy() || listener.has_tcp_fallback()) {
      const auto& tcp = listener.has_tcp_proxy() ? listener.tcp_proxy() : listener.tcp_fallback();
      auto config = std::make_shared<filters::TcpProxyConfig>();
      config->listener_name = listener.name();
      config->cluster = tcp.cluster();
      config->idle_timeout = config::millisecondsOr(tcp.has_idle_timeout(), tcp.idle_timeout(),
                                                    config::kDefaultTcpIdleTimeout);
      auto sink = openSink(tcp.access_log());
      if (!sink.ok()) return sink.status();
      config->access_log = *sink;
      config->stats = stats;
      if (listener.has_tcp_proxy()) {
        tcp_config = std::move(config);
      } else {
        tcp_fallback = std::move(config);
      }
    }
    std::chrono::milliseconds detection_timeout = config::millisecondsOr(
        listener.has_protocol_detection_timeout(), listener.protocol_detection_timeout(),
        config::kDefaultProtocolDetectionTimeout);

    auto address = net::parseIpAndPort(listener.address().address(),
                                       static_cast<uint16_t>(listener.address().port()));
    if (!address.ok()) return address.status();
    auto sockets = net::bindReusePortSockets(*address, static_cast<int>(per_worker.size()));
    if (!sockets.ok()) {
      return absl::UnavailableError(
          absl::StrCat("listener ", listener.name(), ": ", sockets.status().message()));
    }
    bound_listeners_.push_back({listener.name(), (*sockets)[0].boundAddress()});
    SKIFF_LOG(kInfo, "listener %s on %s (%s)", listener.name(),
              (*sockets)[0].boundAddress().toString(), http_config ? "http" : "tcp");
    for (size_t i = 0; i < per_worker.size(); ++i) {
      WorkerListener worker_listener;
      worker_listener.http = http_config;
      worker_listener.tcp = tcp_config;
      worker_listener.tcp_fallback = tcp_fallback;
      worker_listener.detection_timeout = detection_timeout;
      worker_listener.socket = std::make_unique<net::ListenSocket>(std::move((*sockets)[i]));
      per_worker[i].push_back(std::move(worker_listener));
    }
  }
  return absl::OkStatus();
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
    return AdminResponse{200, "application/json", toJson(bootstrap_) + "\n"};
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
      }
    }
    return AdminResponse{200, "application/json", toJson(root) + "\n"};
  });
  admin_->addHandler("GET", "/listeners", [this](const http::RequestHead&) {
    google::protobuf::Struct root;
    auto* list = (*root.mutable_fields())["listeners"].mutable_list_value();
    for (const auto& bound : bound_listeners_) {
      auto* l = list->add_values()->mutable_struct_value()->mutable_fields();
      (*l)["name"] = stringValue(bound.name);
      (*l)["address"] = stringValue(bound.address.toString());
    }
    return AdminResponse{200, "application/json", toJson(root) + "\n"};
  });
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
