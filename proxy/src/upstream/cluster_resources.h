#pragma once

// What one worker has in flight for one cluster, counted without locks, and the limits the
// cluster puts on it: the retry budget now, circuit breakers next. The ThreadLocalCluster
// keeps one for its whole life (through cluster updates); each request holds a reference so
// that its counts come back even if the cluster goes away meanwhile.
//
// The budget is per worker: with N workers the floor is N x min_retry_concurrency for the
// proxy as a whole. Each worker sees its own share of the requests, so the percentage holds.

#include <cstdint>
#include <memory>

#include "skiff/config/v1/cluster.pb.h"

namespace skiff::upstream {

struct ClusterResources {
  static constexpr double kDefaultBudgetPercent = 20.0;
  static constexpr uint32_t kDefaultMinRetryConcurrency = 3;

  uint32_t active_requests = 0;  // requests (not tries) in flight
  uint32_t active_retries = 0;   // retries waiting or in flight

  // Whether one more retry fits the cluster's retry_budget: retries in flight at most
  // budget_percent of the requests in flight, but always min_retry_concurrency.
  bool retryAllowed(const config::v1::RetryBudget& budget) const;
};

using ClusterResourcesSharedPtr = std::shared_ptr<ClusterResources>;

}  // namespace skiff::upstream
