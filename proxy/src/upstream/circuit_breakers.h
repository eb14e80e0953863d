#pragma once

// A cluster's circuit breakers: how many connections, waiting requests, requests and retries
// all workers together may have open or in flight to it, and the counts against those limits.
// One object per cluster name for the life of the process (the ClusterManager owns it, like
// the cluster's stats), so counts carry over a config change; limits are set on the main
// thread, counts move on any worker, both with atomics and no lock.
//
// Each limit shows its headroom as a gauge (skiff_upstream_circuit_breaker_remaining) and
// counts what it turned away (skiff_upstream_overflow_total), labelled by resource.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "skiff/config/v1/cluster.pb.h"
#include "stats/stats.h"

namespace skiff::upstream {

// One counted resource against its limit.
class ResourceLimit {
 public:
  static constexpr uint32_t kUnlimited = UINT32_MAX;

  ResourceLimit(stats::Gauge* remaining, stats::Counter* overflow)
      : remaining_(remaining), overflow_(overflow) {}

  // Takes one unit if the limit allows; otherwise counts the overflow and returns false.
  bool tryAcquire();
  // Takes one unit even over the limit.
  void acquire();
  // A pool's next connection: within the limit, or over it when the pool has none (else its
  // requests could never run; Envoy's rule too).
  bool tryAcquireConnection(bool pool_has_connections) {
    if (pool_has_connections) return tryAcquire();
    acquire();
    return true;
  }
  void release();
  bool atLimit() const { return count_.load(std::memory_order_relaxed) >= max(); }
  uint32_t count() const { return count_.load(std::memory_order_relaxed); }
  uint32_t max() const { return max_.load(std::memory_order_relaxed); }
  // Main thread. The headroom gauge follows.
  void setMax(uint32_t max);

 private:
  std::atomic<uint32_t> count_{0};
  std::atomic<uint32_t> max_{0};  // set by the owner's configure() before any use
  stats::Gauge* remaining_;  // null: no gauge (an unlimited resource has no headroom to show)
  stats::Counter* overflow_;
};

// One unit of a ResourceLimit, held for the life of this object (a waiting request, an open
// connection); then `on_release` runs, if given.
class ResourceHold {
 public:
  ResourceHold(ResourceLimit& limit, std::function<void()> on_release = nullptr)
      : limit_(limit), on_release_(std::move(on_release)) {}
  ~ResourceHold() {
    limit_.release();
    if (on_release_) on_release_();
  }
  ResourceHold(const ResourceHold&) = delete;
  ResourceHold& operator=(const ResourceHold&) = delete;

 private:
  ResourceLimit& limit_;
  std::function<void()> on_release_;
};

struct CircuitBreakers {
  static constexpr uint32_t kDefaultMaxConnections = 1024;
  static constexpr uint32_t kDefaultMaxPendingRequests = 1024;
  static constexpr uint32_t kDefaultMaxRequests = 1024;

  CircuitBreakers(stats::Registry& registry, const std::string& cluster);
  // Main thread: the limits of the cluster's current config (defaults where unset).
  void configure(const config::v1::CircuitBreakers& config);

  ResourceLimit connections;
  ResourceLimit pending_requests;
  ResourceLimit requests;
  ResourceLimit retries;
};

}  // namespace skiff::upstream
