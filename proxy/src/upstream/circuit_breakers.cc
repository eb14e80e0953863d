#include "upstream/circuit_breakers.h"

namespace skiff::upstream {
namespace {

constexpr char kRemainingName[] = "skiff_upstream_circuit_breaker_remaining";
constexpr char kRemainingHelp[] =
    "How many more of a resource the cluster's circuit breaker allows (limit minus in use).";
constexpr char kOverflowName[] = "skiff_upstream_overflow_total";
constexpr char kOverflowHelp[] =
    "Requests and connections a circuit breaker of the cluster turned away, by resource.";

stats::Labels labels(const std::string& cluster, const char* resource) {
  return {{"cluster", cluster}, {"resource", resource}};
}

uint32_t limitOr(bool has, uint32_t value, uint32_t fallback) { return has ? value : fallback; }

}  // namespace

bool ResourceLimit::tryAcquire() {
  uint32_t before = count_.fetch_add(1, std::memory_order_relaxed);
  if (before >= max()) {
    count_.fetch_sub(1, std::memory_order_relaxed);
    overflow_->inc();
    return false;
  }
  if (remaining_ != nullptr) remaining_->sub(1);
  return true;
}

void ResourceLimit::acquire() {
  count_.fetch_add(1, std::memory_order_relaxed);
  if (remaining_ != nullptr) remaining_->sub(1);
}

void ResourceLimit::release() {
  count_.fetch_sub(1, std::memory_order_relaxed);
  if (remaining_ != nullptr) remaining_->add(1);
}

void ResourceLimit::setMax(uint32_t max) {
  uint32_t old = max_.exchange(max, std::memory_order_relaxed);
  if (remaining_ != nullptr) {
    remaining_->add(static_cast<int64_t>(max) - static_cast<int64_t>(old));
  }
}

CircuitBreakers::CircuitBreakers(stats::Registry& registry, const std::string& cluster)
    : connections(&registry.gauge(kRemainingName, kRemainingHelp, labels(cluster, "connections")),
                  &registry.counter(kOverflowName, kOverflowHelp,
                                    labels(cluster, "connections"))),
      pending_requests(
          &registry.gauge(kRemainingName, kRemainingHelp, labels(cluster, "pending_requests")),
          &registry.counter(kOverflowName, kOverflowHelp, labels(cluster, "pending_requests"))),
      requests(&registry.gauge(kRemainingName, kRemainingHelp, labels(cluster, "requests")),
               &registry.counter(kOverflowName, kOverflowHelp, labels(cluster, "requests"))),
      // Retries over max_retries are counted with those over the budget
      // (skiff_upstream_retry_overflow_total); this counter stays for the resource's series.
      retries(nullptr, &registry.counter(kOverflowName, kOverflowHelp, labels(cluster, "retries"))) {
  configure(config::v1::CircuitBreakers());
}

void CircuitBreakers::configure(const config::v1::CircuitBreakers& config) {
  connections.setMax(limitOr(config.has_max_connections(), config.max_connections().value(),
                             kDefaultMaxConnections));
  pending_requests.setMax(limitOr(config.has_max_pending_requests(),
                                  config.max_pending_requests().value(),
                                  kDefaultMaxPendingRequests));
  requests.setMax(
      limitOr(config.has_max_requests(), config.max_requests().value(), kDefaultMaxRequests));
  retries.setMax(limitOr(config.has_max_retries(), config.max_retries().value(),
                         ResourceLimit::kUnlimited));
}

}  // namespace skiff::upstream
