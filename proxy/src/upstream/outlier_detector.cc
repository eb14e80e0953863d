#include "upstream/outlier_detector.h"

#include "common/logging.h"
#include "config/duration.h"

namespace skiff::upstream {
namespace {

constexpr char kEjectionsName[] = "skiff_upstream_outlier_ejections_total";
constexpr char kEjectionsHelp[] = "Hosts ejected by outlier detection, by trigger.";

bool gatewayError(int status) { return status == 502 || status == 503 || status == 504; }

}  // namespace

OutlierDetector::OutlierDetector(event::Dispatcher& main, stats::Registry& registry,
                                 const std::string& cluster, std::function<void()> on_change)
    : main_(main),
      cluster_(cluster),
      on_change_(std::move(on_change)),
      ejected_5xx_(registry.counter(kEjectionsName, kEjectionsHelp,
                                    {{"cluster", cluster}, {"reason", "consecutive_5xx"}})),
      ejected_gateway_(registry.counter(
          kEjectionsName, kEjectionsHelp,
          {{"cluster", cluster}, {"reason", "consecutive_gateway_failure"}})),
      ejections_overflow_(registry.counter(
          "skiff_upstream_outlier_ejections_overflow_total",
          "Ejections not made because max_ejection_percent of the hosts were already out.",
          {{"cluster", cluster}})),
      hosts_ejected_(registry.gauge("skiff_upstream_hosts_ejected",
                                    "Hosts of the cluster ejected by outlier detection now.",
                                    {{"cluster", cluster}})) {}

void OutlierDetector::configure(const config::v1::OutlierDetection* config) {
  if (config == nullptr) {
    enabled_.store(false, std::memory_order_relaxed);
    review_timer_.reset();
    if (ejections_.ejectedCount() > 0) {
      ejections_ = OutlierEjections();
      hosts_ejected_.add(-hosts_ejected_.value());
    }
    return;
  }
  consecutive_5xx_.store(config->has_consecutive_5xx() ? config->consecutive_5xx().value()
                                                        : kDefaultConsecutive5xx,
                         std::memory_order_relaxed);
  consecutive_gateway_failure_.store(config->has_consecutive_gateway_failure()
                                         ? config->consecutive_gateway_failure().value()
                                         : kDefaultConsecutiveGatewayFailure,
                                     std::memory_order_relaxed);
  interval_ = config->has_interval() ? config::toMilliseconds(config->interval())
                                     : kDefaultInterval;
  if (interval_.count() <= 0) interval_ = kDefaultInterval;
  ejections_.setSettings(OutlierEjections::settingsFrom(*config));
  enabled_.store(true, std::memory_order_relaxed);
  if (!review_timer_) review_timer_ = main_.createTimer([this] { review(); });
  review_timer_->enable(interval_);
}

void OutlierDetector::setHosts(const HostVector& hosts) {
  host_count_ = hosts.size();
  std::vector<std::string> addresses;
  addresses.reserve(hosts.size());
  for (const auto& host : hosts) addresses.push_back(host->address);
  size_t before = ejections_.ejectedCount();
  ejections_.retainOnly(addresses);
  hosts_ejected_.add(static_cast<int64_t>(ejections_.ejectedCount()) -
                     static_cast<int64_t>(before));
}

bool OutlierDetector::extendStreak(std::atomic<uint32_t>& streak, uint32_t threshold) {
  uint32_t now = streak.fetch_add(1, std::memory_order_relaxed) + 1;
  if (threshold == 0 || now < threshold) return false;
  // One worker wins the reset and reports; the others' increments start the next streak.
  return streak.exchange(0, std::memory_order_relaxed) >= threshold;
}

void OutlierDetector::reportStatus(const Host& host, int status) {
  if (!enabled()) return;
  if (status < 500) {
    if (host.consecutive_5xx.load(std::memory_order_relaxed) != 0) {
      host.consecutive_5xx.store(0, std::memory_order_relaxed);
    }
    if (host.consecutive_gateway_failures.load(std::memory_order_relaxed) != 0) {
      host.consecutive_gateway_failures.store(0, std::memory_order_relaxed);
    }
    return;
  }
  if (extendStreak(host.consecutive_5xx, consecutive_5xx_.load(std::memory_order_relaxed))) {
    post(host, Trigger::kConsecutive5xx);
  }
  if (!gatewayError(status)) {
    host.consecutive_gateway_failures.store(0, std::memory_order_relaxed);
  } else if (extendStreak(host.consecutive_gateway_failures,
                          consecutive_gateway_failure_.load(std::memory_order_relaxed))) {
    post(host, Trigger::kConsecutiveGatewayFailure);
  }
}

void OutlierDetector::reportLocalFailure(const Host& host) {
  reportStatus(host, 503);  // as Envoy counts a failure of the proxy's own making
}

void OutlierDetector::post(const Host& host, Trigger trigger) {
  main_.post([weak = weak_from_this(), address = host.address, trigger] {
    if (auto self = weak.lock()) self->onStreak(address, trigger);
  });
}

void OutlierDetector::onStreak(const std::string& address, Trigger trigger) {
  if (!enabled()) return;
  const char* reason = trigger == Trigger::kConsecutive5xx ? "consecutive_5xx"
                                                           : "consecutive_gateway_failure";
  switch (ejections_.onFailureStreak(address, main_.timeSource().monotonicTime(), host_count_)) {
    case OutlierEjections::Decision::kAlreadyEjected:
      return;
    case OutlierEjections::Decision::kOverMaxEjectionPercent:
      ejections_overflow_.inc();
      SKIFF_LOG(kWarn, "cluster %s: host %s failed (%s) but is not ejected: %d hosts already out",
                cluster_, address, reason, static_cast<int>(ejections_.ejectedCount()));
      return;
    case OutlierEjections::Decision::kEjected:
      break;
  }
  (trigger == Trigger::kConsecutive5xx ? ejected_5xx_ : ejected_gateway_).inc();
  hosts_ejected_.add(1);
  auto out = std::chrono::duration_cast<std::chrono::milliseconds>(
      ejections_.ejectedUntil(address) - main_.timeSource().monotonicTime());
  SKIFF_LOG(kWarn, "cluster %s: host %s ejected for %dms (%s, ejection %d)", cluster_, address,
            static_cast<int>(out.count()), reason,
            static_cast<int>(ejections_.ejectionMultiplier(address)));
  on_change_();
}

void OutlierDetector::review() {
  std::vector<std::string> back = ejections_.review(main_.timeSource().monotonicTime());
  review_timer_->enable(interval_);
  if (back.empty()) return;
  hosts_ejected_.sub(static_cast<int64_t>(back.size()));
  for (const std::string& address : back) {
    SKIFF_LOG(kInfo, "cluster %s: host %s is back from ejection", cluster_, address);
  }
  on_change_();
}

}  // namespace skiff::upstream
