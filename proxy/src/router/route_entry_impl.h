#pragma once

// The compiled form of one Route and of its VirtualHost. Owned by RouteTableImpl: a
// RouteEntry pointer stays valid for as long as the table that returned it.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "router/route_header_mutation.h"
#include "router/route_matcher.h"
#include "router/route_table.h"

namespace skiff::router {

struct VirtualHostImpl;

class RouteEntryImpl : public RouteEntry {
 public:
  // `field` is the route's path, e.g. "virtual_hosts[0].routes[2]".
  static absl::StatusOr<std::unique_ptr<RouteEntryImpl>> create(const config::v1::Route& route,
                                                                const VirtualHostImpl& virtual_host,
                                                                const std::string& field);

  // Path, then headers, then query parameters (cheapest first).
  bool matches(const http::RequestHead& head) const;

  const std::string& name() const override { return name_; }
  const std::string& pickCluster(uint64_t random) const override;
  const std::vector<WeightedCluster>& clusters() const override { return clusters_; }
  std::chrono::milliseconds timeout() const override { return timeout_; }
  std::chrono::milliseconds idleTimeout() const override { return idle_timeout_; }
  void finalizeRequest(http::RequestHead& head) const override;
  void finalizeResponse(http::ResponseHead& head) const override;
  std::optional<uint64_t> hashKey(const http::RequestHead& head) const override;
  const RetryPolicy& retryPolicy() const override { return retry_policy_; }
  const LocalRateLimit* rateLimit() const override { return rate_limit_.get(); }

 private:
  enum class PathKind { kPrefix, kExact, kRegex };

  explicit RouteEntryImpl(const VirtualHostImpl& virtual_host) : virtual_host_(virtual_host) {}

  const VirtualHostImpl& virtual_host_;
  std::string name_;
  PathKind path_kind_ = PathKind::kPrefix;
  std::string path_;  // the prefix or the exact path
  std::unique_ptr<RE2> path_regex_;
  std::vector<HeaderMatcher> headers_;
  std::vector<QueryParameterMatcher> query_parameters_;

  std::vector<WeightedCluster> clusters_;
  std::vector<uint64_t> cumulative_weights_;
  std::chrono::milliseconds timeout_{0};
  std::chrono::milliseconds idle_timeout_{0};
  RetryPolicy retry_policy_ = RetryPolicy::transparentOnly();
  std::unique_ptr<LocalRateLimit> rate_limit_;
  bool has_prefix_rewrite_ = false;
  std::string prefix_rewrite_;
  std::string host_rewrite_;
  HeaderMutations request_mutations_;
  HeaderMutations response_mutations_;
  std::vector<std::string> hash_headers_;  // lower-case
};

struct VirtualHostImpl {
  std::string name;
  HeaderMutations request_mutations;
  HeaderMutations response_mutations;
  std::vector<std::unique_ptr<RouteEntryImpl>> routes;
};

}  // namespace skiff::router
