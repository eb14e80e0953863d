#pragma once

// The route table: an immutable, compiled form of a RouteConfiguration. Built on the main
// thread, shared read-only by every worker.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "http/header_map.h"
#include "router/route_rate_limit.h"
#include "router/route_retry_policy.h"
#include "skiff/config/v1/route.pb.h"

namespace skiff::router {

struct WeightedCluster {
  std::string name;
  uint32_t weight = 0;
};

class RouteEntry {
 public:
  virtual ~RouteEntry() = default;
  virtual const std::string& name() const = 0;
  // The single cluster, or a weighted choice; `random` is any uniformly random 64-bit value.
  virtual const std::string& pickCluster(uint64_t random) const = 0;
  virtual const std::vector<WeightedCluster>& clusters() const = 0;
  // 0 means none. Default route timeout is 15s.
  virtual std::chrono::milliseconds timeout() const = 0;
  virtual std::chrono::milliseconds idleTimeout() const = 0;
  // Prefix rewrite, host rewrite, then request header removals and additions (the route's,
  // then its virtual host's).
  virtual void finalizeRequest(http::RequestHead& head) const = 0;
  // Response header removals and additions (route's, then virtual host's).
  virtual void finalizeResponse(http::ResponseHead& head) const = 0;
  // Hash of the first hash_policy header present in the request, for RING_HASH clusters.
  virtual std::optional<uint64_t> hashKey(const http::RequestHead& head) const = 0;
  // The route's retry_policy, or the transparent default (RetryPolicy::transparentOnly()).
  virtual const RetryPolicy& retryPolicy() const = 0;
  // The route's local_rate_limit; null when it has none. Its bucket lives as long as the
  // table: a new route configuration starts with full buckets, an unchanged one keeps them.
  virtual const LocalRateLimit* rateLimit() const = 0;
};

class RouteTable {
 public:
  virtual ~RouteTable() = default;
  // Virtual host by authority (exact, then suffix "*.x", then prefix "x.*", then "*"), then the
  // first route whose path, headers and query parameters all match. nullptr: no route.
  virtual const RouteEntry* match(const http::RequestHead& head) const = 0;

  // Errors name the field path within the RouteConfiguration, e.g.
  // "virtual_hosts[0].routes[2].match.safe_regex: ...".
  static absl::StatusOr<std::shared_ptr<const RouteTable>> create(
      const config::v1::RouteConfiguration& config);
};

}  // namespace skiff::router
