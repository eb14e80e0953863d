#include "upstream/cluster_info.h"

namespace skiff::upstream {

ClusterStats ClusterStats::create(stats::Registry& registry, const std::string& cluster) {
  stats::Labels labels = {{"cluster", cluster}};
  return ClusterStats{
      registry.codeCounter("skiff_upstream_requests_total",
                           "Upstream responses received, by status code.", labels),
      registry.histogram("skiff_upstream_request_duration_seconds",
                         "Upstream request duration, request sent to response complete.", labels),
      registry.gauge("skiff_upstream_requests_active", "Upstream requests in flight.", labels),
      registry.counter("skiff_upstream_connections_total", "Upstream connections opened.", labels),
      registry.gauge("skiff_upstream_connections_active", "Open upstream connections.", labels),
      registry.counter("skiff_upstream_connect_failures_total",
                       "Upstream connection attempts that failed.", labels),
      registry.counter("skiff_upstream_connect_timeouts_total",
                       "Upstream connection attempts that timed out.", labels),
      registry.counter("skiff_upstream_connections_reused_total",
                       "Requests sent on a pooled keep-alive connection.", labels),
      registry.counter("skiff_upstream_request_timeouts_total",
                       "Upstream requests that hit the route timeout.", labels),
      registry.gauge("skiff_upstream_hosts", "Hosts currently in the cluster.", labels),
      registry.counter("skiff_upstream_lb_no_host_total",
                       "Requests for which the load balancer had no host.", labels),
      registry.counter("skiff_upstream_original_dst_refused_total",
                       "ORIGINAL_DST connections refused: not redirected, their destination "
                       "was the proxy's own listener (a loop).",
                       labels),
      registry.counter("skiff_upstream_retries_total", "Retries made (tries after the first).",
                       labels),
      registry.counter("skiff_upstream_retry_overflow_total",
                       "Retries not made because the cluster's retry budget was spent.", labels),
      registry.counter("skiff_upstream_retry_limit_exceeded_total",
                       "Requests that failed in a retriable way with no retry left.", labels),
      registry.counter("skiff_upstream_per_try_timeouts_total",
                       "Tries that passed the route's per_try_timeout.", labels),
  };
}

}  // namespace skiff::upstream
