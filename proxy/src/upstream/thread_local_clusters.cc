#include "upstream/thread_local_clusters.h"

#include "absl/container/flat_hash_set.h"
#include "upstream/http1_connection_pool.h"
#include "upstream/http2_connection_pool.h"
#include "upstream/original_dst_host.h"

namespace skiff::upstream {

std::shared_ptr<ConnectionPool> createConnectionPool(event::Dispatcher& dispatcher,
                                                     HostSharedPtr host,
                                                     ClusterInfoConstSharedPtr cluster) {
  if (cluster->config.protocol() == config::v1::Cluster::HTTP2) {
    return std::make_shared<Http2ConnectionPool>(dispatcher, std::move(host), std::move(cluster));
  }
  return std::make_shared<Http1ConnectionPool>(dispatcher, std::move(host), std::move(cluster));
}

ThreadLocalCluster::ThreadLocalCluster(event::Dispatcher& dispatcher, Random& random,
                                       ClusterInfoConstSharedPtr info,
                                       PoolFactory pool_factory)
    : dispatcher_(dispatcher), random_(random), pool_factory_(std::move(pool_factory)) {
  update(std::move(info));
}

ThreadLocalCluster::~ThreadLocalCluster() {
  // Requests in flight hold their pool (shared_ptr) and finish; nothing goes back to a pool.
  for (auto& [address, pool] : pools_) pool->drain();
}

void ThreadLocalCluster::update(ClusterInfoConstSharedPtr info) {
  bool settings_changed = info_ && info_->settings_hash != info->settings_hash;
  bool hosts_changed = !info_ || info_->hosts != info->hosts;
  bool balanced_changed = !info_ || info_->balanced_hosts != info->balanced_hosts;
  info_ = std::move(info);
  if (!hosts_changed && !settings_changed && !balanced_changed) return;
  if (info_->config.type() == config::v1::Cluster::ORIGINAL_DST) {
    load_balancer_ = std::make_unique<OriginalDstLoadBalancer>(info_);
  } else {
    load_balancer_ = createLoadBalancer(
        info_->config, info_->balanced_hosts ? *info_->balanced_hosts : *info_->hosts, random_);
  }
  if (!hosts_changed && !settings_changed) return;  // an ejection: the pools stay
  // Pools of hosts that left (or every pool, when the settings changed: protocol, timeouts)
  // stop taking connections back; their in-flight requests finish.
  absl::flat_hash_set<std::string> current;
  if (!settings_changed) {
    for (const auto& host : *info_->hosts) current.insert(host->address);
  }
  for (auto it = pools_.begin(); it != pools_.end();) {
    if (current.contains(it->first)) {
      ++it;
      continue;
    }
    it->second->drain();
    pools_.erase(it++);
  }
}

HostSharedPtr ThreadLocalCluster::chooseHost(const LbContext& context) {
  constexpr int kReselections = 3;  // as Envoy's previous-hosts retry predicate defaults
  HostSharedPtr host = load_balancer_->chooseHost(context);
  for (int i = 0; i < kReselections && host && context.tried(*host); ++i) {
    host = load_balancer_->chooseHost(context);
  }
  return host;
}

std::shared_ptr<ConnectionPool> ThreadLocalCluster::pool(const HostSharedPtr& host) {
  auto it = pools_.find(host->address);
  if (it != pools_.end()) return it->second;
  std::shared_ptr<ConnectionPool> pool = pool_factory_(dispatcher_, host, info_);
  pools_.emplace(host->address, pool);
  return pool;
}

void ThreadLocalClusters::update(
    const absl::flat_hash_map<std::string, ClusterInfoConstSharedPtr>& clusters) {
  for (auto it = clusters_.begin(); it != clusters_.end();) {
    if (clusters.contains(it->first)) {
      ++it;
    } else {
      clusters_.erase(it++);
    }
  }
  for (const auto& [name, info] : clusters) {
    auto it = clusters_.find(name);
    if (it == clusters_.end()) {
      clusters_.emplace(name, std::make_unique<ThreadLocalCluster>(dispatcher_, random_, info,
                                                                   pool_factory_));
    } else {
      it->second->update(info);
    }
  }
}

ThreadLocalCluster* ThreadLocalClusters::get(const std::string& name) {
  auto it = clusters_.find(name);
  return it == clusters_.end() ? nullptr : it->second.get();
}

}  // namespace skiff::upstream
