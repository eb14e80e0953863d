#pragma once

// Outlier detection for one cluster (passive health). The workers report how each try of a
// host went; failures in a row are counted on the Host itself with relaxed atomics, no lock.
// A streak that reaches a threshold is posted to the main thread, which decides
// (OutlierEjections: the ejection time, the share of hosts that may be out) and, when the set
// of ejected hosts changes, asks the ClusterManager to publish the cluster again: the workers'
// balancers then pick among the other hosts. A review timer brings hosts back.
//
// One detector per cluster name for the life of the ClusterManager, like the cluster's stats;
// it is on while the cluster's config has `outlier_detection`.

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "event/dispatcher.h"
#include "skiff/config/v1/cluster.pb.h"
#include "stats/stats.h"
#include "upstream/host.h"
#include "upstream/outlier_ejections.h"

namespace skiff::upstream {

class OutlierDetector : public std::enable_shared_from_this<OutlierDetector> {
 public:
  static constexpr uint32_t kDefaultConsecutive5xx = 5;
  static constexpr uint32_t kDefaultConsecutiveGatewayFailure = 5;
  static constexpr std::chrono::milliseconds kDefaultInterval{10000};

  // `on_change`: the set of ejected hosts changed (main thread).
  OutlierDetector(event::Dispatcher& main, stats::Registry& registry, const std::string& cluster,
                  std::function<void()> on_change);

  // Main thread. `config` null: off (every host comes back).
  void configure(const config::v1::OutlierDetection* config);
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }
  // Main thread: the cluster's current hosts (the share that may be out is of these).
  void setHosts(const HostVector& hosts);
  bool ejected(const std::string& address) const { return ejections_.ejected(address); }
  const OutlierEjections& ejections() const { return ejections_; }
  void stopTimer() { review_timer_.reset(); }

  // Any worker: the try got a response with `status`.
  void reportStatus(const Host& host, int status);
  // Any worker: the try failed before a response (connect failure, timeout, reset); counts as
  // a gateway failure.
  void reportLocalFailure(const Host& host);

 private:
  enum class Trigger { kConsecutive5xx, kConsecutiveGatewayFailure };
  // Adds one to a streak; true when it reached `threshold` (and restarts it).
  static bool extendStreak(std::atomic<uint32_t>& streak, uint32_t threshold);
  void post(const Host& host, Trigger trigger);
  void onStreak(const std::string& address, Trigger trigger);  // main thread
  void review();                                                // main thread

  event::Dispatcher& main_;
  std::string cluster_;
  std::function<void()> on_change_;
  std::atomic<bool> enabled_{false};
  std::atomic<uint32_t> consecutive_5xx_{kDefaultConsecutive5xx};
  std::atomic<uint32_t> consecutive_gateway_failure_{kDefaultConsecutiveGatewayFailure};
  std::chrono::milliseconds interval_{kDefaultInterval};
  size_t host_count_ = 0;
  OutlierEjections ejections_;
  std::unique_ptr<event::Timer> review_timer_;

  stats::Counter& ejected_5xx_;
  stats::Counter& ejected_gateway_;
  stats::Counter& ejections_overflow_;
  stats::Gauge& hosts_ejected_;
};

}  // namespace skiff::upstream
