#include "upstream/cluster_resources.h"

#include <algorithm>

namespace skiff::upstream {

bool ClusterResources::retryAllowed(const config::v1::RetryBudget& budget) const {
  double percent =
      budget.has_budget_percent() ? budget.budget_percent().value() : kDefaultBudgetPercent;
  uint32_t floor = budget.has_min_retry_concurrency() ? budget.min_retry_concurrency().value()
                                                      : kDefaultMinRetryConcurrency;
  uint32_t limit = std::max<uint32_t>(
      floor, static_cast<uint32_t>(static_cast<double>(active_requests) * percent / 100.0));
  return active_retries < limit;
}

}  // namespace skiff::upstream
