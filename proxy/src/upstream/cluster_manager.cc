#include "upstream/cluster_manager.h"

#include <netdb.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "config/defaults.h"
#include "config/duration.h"
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

absl::Status ClusterManager::addClusters(
    const google::protobuf::RepeatedPtrField<config::v1::Cluster>& configs) {
  for (const auto& config : configs) {
    auto info = std::make_shared<ClusterInfo>();
    info->name = config.name();
    info->config = config;
    info->connect_timeout = config::millisecondsOr(
        config.has_connect_timeout(), config.connect_timeout(), config::kDefaultConnectTimeout);
    info->idle_timeout = config::millisecondsOr(config.connection_pool().has_idle_timeout(),
                                                config.connection_pool().idle_timeout(),
                                                config::kDefaultPoolIdleTimeout);
    info->max_requests_per_connection = config.connection_pool().max_requests_per_connection();
    stats_.push_back(std::make_unique<ClusterStats>(ClusterStats::create(registry_, config.name())));
    info->stats = stats_.back().get();

    HostVector hosts;
    if (config.type() == config::v1::Cluster::STATIC) {
      for (const auto& endpoint : config.endpoints()) {
        auto host = makeHost(endpoint.address().address(),
                             static_cast<uint16_t>(endpoint.address().port()),
                             endpoint.weight() == 0 ? 1 : endpoint.weight());
        if (!host.ok()) return host.status();
        hosts.push_back(std::move(*host));
      }
    } else {
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
    info->stats->hosts.add(static_cast<int64_t>(hosts.size()));
    info->hosts = std::make_shared<const HostVector>(std::move(hosts));
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
  cluster.refresh_timer->enable(cluster.refresh);
  checkInitialized();
}

void ClusterManager::publishHosts(const std::string& name, HostVector hosts) {
  const ClusterInfo& current = *clusters_.at(name);
  auto updated = std::make_shared<ClusterInfo>(current);
  updated->stats->hosts.add(static_cast<int64_t>(hosts.size()) -
                            static_cast<int64_t>(current.hosts->size()));
  updated->hosts = std::make_shared<const HostVector>(std::move(hosts));
  SKIFF_LOG(kInfo, "cluster %s: %d hosts", name, static_cast<int>(updated->hosts->size()));
  clusters_[name] = std::move(updated);
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
