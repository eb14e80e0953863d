#include "upstream/cluster_manager.h"

#include <netdb.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "config/defaults.h"
#include "config/duration.h"
#include "google/protobuf/util/message_differencer.h"
#include "common/hash.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "net/address.h"

namespace skiff::upstream {

struct ClusterManager::DnsCluster {
  std::string name;
  config::v1::Cluster config;
  std::chrono::milliseconds refresh{5000};
  std::unique_ptr<event::Timer> refresh_timer;
  // One slot per endpoint: the addresses its name resolved to at the last answer.
  std::vector<HostVector> resolved;
  size_t outstanding = 0;
  bool initialized = false;
  ClusterManager* owner = nullptr;
};

ClusterManager::ClusterManager(event::Dispatcher& main, stats::Registry& registry,
                               PublishCallback publish)
    : main_(main), registry_(registry), publish_(std::move(publish)) {}

ClusterManager::~ClusterManager() = default;

void ClusterManager::stopTimers() {
  for (auto& dns : dns_clusters_) dns->refresh_timer.reset();
  for (auto& [name, detector] : outlier_detectors_) detector->stopTimer();
}

namespace {

// Settings and static hosts of one cluster; stats are attached by the caller.
absl::StatusOr<std::shared_ptr<ClusterInfo>> buildClusterInfo(const config::v1::Cluster& config) {
  auto info = std::make_shared<ClusterInfo>();
  info->name = config.name();
  info->config = config;
  info->connect_timeout = config::millisecondsOr(
      config.has_connect_timeout(), config.connect_timeout(), config::kDefaultConnectTimeout);
  info->idle_timeout = config::millisecondsOr(config.connection_pool().has_idle_timeout(),
                                              config.connection_pool().idle_timeout(),
                                              config::kDefaultPoolIdleTimeout);
  info->max_requests_per_connection = config.connection_pool().max_requests_per_connection();
  config::v1::Cluster settings = config;
  settings.clear_endpoints();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    settings.SerializeToCodedStream(&coded);
  }
  info->settings_hash = hash64(bytes);

  HostVector hosts;
  if (config.type() != config::v1::Cluster::STRICT_DNS) {
    for (const auto& endpoint : config.endpoints()) {
      auto host = makeHost(endpoint.address().address(),
                           static_cast<uint16_t>(endpoint.address().port()),
                           endpoint.weight() == 0 ? 1 : endpoint.weight());
      if (!host.ok()) return host.status();
      hosts.push_back(std::move(*host));
    }
  }
  info->hosts = std::make_shared<const HostVector>(std::move(hosts));
  return info;
}

}  // namespace

absl::Status ClusterManager::addClusters(
    const google::protobuf::RepeatedPtrField<config::v1::Cluster>& configs) {
  for (const auto& config : configs) {
    auto built = buildClusterInfo(config);
    if (!built.ok()) return built.status();
    std::shared_ptr<ClusterInfo> info = std::move(*built);
    attachShared(*info);
    static_names_.insert(config.name());
    if (config.type() == config::v1::Cluster::STRICT_DNS) {
      auto dns = std::make_unique<DnsCluster>();
      dns->name = config.name();
      dns->config = config;
      dns->owner = this;
      dns->refresh = config::millisecondsOr(config.has_dns_refresh_rate(),
                                            config.dns_refresh_rate(),
                                            config::kDefaultDnsRefreshRate);
      dns->resolved.resize(config.endpoints_size());
      dns_clusters_.push_back(std::move(dns));
    }
    info->stats->hosts.add(static_cast<int64_t>(info->hosts->size()));
    clusters_[info->name] = std::move(info);
  }
  for (auto& dns : dns_clusters_) {
    DnsCluster* raw = dns.get();
    dns->refresh_timer = main_.createTimer([this, raw] { resolve(*raw); });
    resolve(*dns);
  }
  return absl::OkStatus();
}

void ClusterManager::resolve(DnsCluster& cluster) {
  if (cluster.outstanding > 0) return;
  cluster.outstanding = cluster.config.endpoints_size();
  for (int i = 0; i < cluster.config.endpoints_size(); ++i) {
    const auto& endpoint = cluster.config.endpoints(i);
    struct Request {
      uv_getaddrinfo_t req;
      DnsCluster* cluster;
      int index;
    };
    auto* request = new Request{{}, &cluster, i};
    request->req.data = request;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = uv_getaddrinfo(
        main_.loop(), &request->req,
        [](uv_getaddrinfo_t* req, int status, addrinfo* result) {
          auto* request = static_cast<Request*>(req->data);
          DnsCluster& cluster = *request->cluster;
          const auto& endpoint = cluster.config.endpoints(request->index);
          uint32_t weight = endpoint.weight() == 0 ? 1 : endpoint.weight();
          if (status == 0) {
            HostVector hosts;
            for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
              net::SocketAddress address = net::fromSockaddr(ai->ai_addr, ai->ai_addrlen);
              auto host = makeHost(address.ip(), static_cast<uint16_t>(endpoint.address().port()),
                                   weight, endpoint.address().address());
              if (!host.ok()) continue;
              bool duplicate = std::any_of(hosts.begin(), hosts.end(), [&](const auto& h) {
                return h->address == (*host)->address;
              });
              if (!duplicate) hosts.push_back(std::move(*host));
            }
            cluster.resolved[request->index] = std::move(hosts);
          } else {
            // Keep the last good answer: a DNS hiccup must not empty a cluster.
            SKIFF_LOG(kWarn, "cluster %s: cannot resolve %s: %s", cluster.name,
                      endpoint.address().address(), uv_strerror(status));
          }
          uv_freeaddrinfo(result);
          delete request;
          if (--cluster.outstanding == 0) cluster.owner->onResolved(cluster);
        },
        endpoint.address().address().c_str(), nullptr, &hints);
    if (rc != 0) {
      delete request;
      if (--cluster.outstanding == 0) onResolved(cluster);
    }
  }
}

void ClusterManager::onResolved(DnsCluster& cluster) {
  HostVector hosts;
  for (const auto& endpoint_hosts : cluster.resolved) {
    hosts.insert(hosts.end(), endpoint_hosts.begin(), endpoint_hosts.end());
  }
  const HostVector& current = *clusters_.at(cluster.name)->hosts;
  bool same = current.size() == hosts.size() &&
              std::equal(current.begin(), current.end(), hosts.begin(),
                         [](const auto& a, const auto& b) {
                           return a->address == b->address && a->weight == b->weight;
                         });
  if (!same) publishHosts(cluster.name, std::move(hosts));
  cluster.initialized = true;
  if (cluster.refresh_timer) cluster.refresh_timer->enable(cluster.refresh);
  checkInitialized();
}

void ClusterManager::publishHosts(const std::string& name, HostVector hosts) {
  const ClusterInfo& current = *clusters_.at(name);
  auto updated = std::make_shared<ClusterInfo>(current);
  updated->stats->hosts.add(static_cast<int64_t>(hosts.size()) -
                            static_cast<int64_t>(current.hosts->size()));
  updated->hosts = std::make_shared<const HostVector>(std::move(hosts));
  setBalancedHosts(*updated);
  SKIFF_LOG(kInfo, "cluster %s: %d hosts", name, static_cast<int>(updated->hosts->size()));
  clusters_[name] = std::move(updated);
  publish_(clusters_);
}

void ClusterManager::attachTls(ClusterInfo& info) {
  if (!info.config.has_tls()) return;
  info.tls = std::make_shared<const tls::UpstreamTlsSettings>(
      info.config.tls(), info.config.protocol() == config::v1::Cluster::HTTP2, registry_, info.name);
}

void ClusterManager::attachShared(ClusterInfo& info) {
  info.stats = statsFor(info.name);
  auto& breakers = breakers_[info.name];
  if (!breakers) breakers = std::make_unique<CircuitBreakers>(registry_, info.name);
  breakers->configure(info.config.circuit_breakers());
  info.breakers = breakers.get();
  // A detector is made the first time the cluster asks for outlier detection, and kept.
  auto detector = outlier_detectors_.find(info.name);
  if (detector == outlier_detectors_.end() && info.config.has_outlier_detection()) {
    detector = outlier_detectors_
                   .emplace(info.name, std::make_shared<OutlierDetector>(
                                           main_, registry_, info.name,
                                           [this, name = info.name] { republishHealth(name); }))
                   .first;
  }
  if (detector != outlier_detectors_.end()) {
    OutlierDetector& outlier = *detector->second;
    outlier.configure(info.config.has_outlier_detection() ? &info.config.outlier_detection()
                                                          : nullptr);
    info.outlier = outlier.enabled() ? &outlier : nullptr;
  }
  setBalancedHosts(info);
  attachTls(info);
}

void ClusterManager::setBalancedHosts(ClusterInfo& info) {
  info.balanced_hosts = info.hosts;
  if (info.outlier == nullptr) return;
  info.outlier->setHosts(*info.hosts);
  const OutlierDetector& detector = *info.outlier;
  info.balanced_hosts = hostsToBalance(
      info.hosts, [&](const Host& host) { return !detector.ejected(host.address); });
}

void ClusterManager::republishHealth(const std::string& name) {
  auto current = clusters_.find(name);
  if (current == clusters_.end()) return;
  auto updated = std::make_shared<ClusterInfo>(*current->second);
  setBalancedHosts(*updated);
  current->second = std::move(updated);
  publish_(clusters_);
}

ClusterStats* ClusterManager::statsFor(const std::string& name) {
  auto& stats = stats_[name];
  if (!stats) stats = std::make_unique<ClusterStats>(ClusterStats::create(registry_, name));
  return stats.get();
}

absl::StatusOr<ClusterManager::DynamicPlan> ClusterManager::prepareDynamic(
    const std::map<std::string, config::v1::Cluster>& configs) const {
  DynamicPlan plan;
  for (const auto& [name, config] : configs) {
    if (static_names_.count(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("cluster ", name, ": name is used by a static cluster"));
    }
    if (config.type() == config::v1::Cluster::STRICT_DNS) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cluster ", name, ": STRICT_DNS is not supported for dynamic clusters (use EDS)"));
    }
    auto current = dynamic_configs_.find(name);
    if (current != dynamic_configs_.end() &&
        google::protobuf::util::MessageDifferencer::Equals(current->second, config)) {
      plan.clusters[name] = std::const_pointer_cast<ClusterInfo>(clusters_.at(name));
    } else {
      auto built = buildClusterInfo(config);
      if (!built.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("cluster ", name, ": ", built.status().message()));
      }
      plan.clusters[name] = std::move(*built);
    }
    plan.configs[name] = config;
  }
  return plan;
}

void ClusterManager::commitDynamic(DynamicPlan plan) {
  for (const auto& [name, config] : dynamic_configs_) {
    if (plan.clusters.count(name)) continue;
    clusters_[name]->stats->hosts.sub(static_cast<int64_t>(clusters_[name]->hosts->size()));
    clusters_.erase(name);
    SKIFF_LOG(kInfo, "cluster %s removed", name);
  }
  for (auto& [name, info] : plan.clusters) {
    auto current = clusters_.find(name);
    if (current != clusters_.end() && current->second == info) continue;  // unchanged
    int64_t old_hosts = current == clusters_.end() ? 0 : current->second->hosts->size();
    attachShared(*info);
    info->stats->hosts.add(static_cast<int64_t>(info->hosts->size()) - old_hosts);
    SKIFF_LOG(kInfo, "cluster %s %s: %d hosts", name,
              current == clusters_.end() ? "added" : "updated",
              static_cast<int>(info->hosts->size()));
    clusters_[name] = std::move(info);
  }
  dynamic_configs_ = std::move(plan.configs);
  publish_(clusters_);
}

void ClusterManager::onInitialized(std::function<void()> ready) {
  on_initialized_ = std::move(ready);
  checkInitialized();
}

void ClusterManager::checkInitialized() {
  if (!on_initialized_) return;
  for (const auto& dns : dns_clusters_) {
    if (!dns->initialized) return;
  }
  auto ready = std::move(on_initialized_);
  on_initialized_ = nullptr;
  ready();
}

}  // namespace skiff::upstream
