#include "router/route_entry_impl.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/hash.h"

namespace skiff::router {
namespace {

constexpr std::chrono::milliseconds kDefaultTimeout{15000};

// Rounds up so that a sub-millisecond timeout does not become 0, which means "none".
absl::StatusOr<std::chrono::milliseconds> toMillis(const google::protobuf::Duration& duration,
                                                   const std::string& field) {
  if (duration.seconds() < 0 || duration.nanos() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": negative duration"));
  }
  return std::chrono::milliseconds(duration.seconds() * 1000 +
                                   (duration.nanos() + 999999) / 1000000);
}

// Where a "host"/":authority"/":path"/":method" named header lives.
std::optional<absl::string_view> requestValue(const http::RequestHead& head,
                                              const std::string& name) {
  if (name == "host" || name == ":authority") {
    if (head.authority.empty()) return std::nullopt;
    return absl::string_view(head.authority);
  }
  if (name == ":path") return absl::string_view(head.path);
  if (name == ":method") return absl::string_view(head.method);
  if (const std::string* value = head.headers.get(name)) return absl::string_view(*value);
  return std::nullopt;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RouteEntryImpl>> RouteEntryImpl::create(
    const config::v1::Route& route, const VirtualHostImpl& virtual_host, const std::string& field) {
  std::unique_ptr<RouteEntryImpl> entry(new RouteEntryImpl(virtual_host));
  entry->name_ = route.name();

  const auto& match = route.match();
  const std::string match_field = field + ".match";
  switch (match.path_specifier_case()) {
    case config::v1::RouteMatch::kPrefix:
      entry->path_kind_ = PathKind::kPrefix;
      entry->path_ = match.prefix();
      break;
    case config::v1::RouteMatch::kPath:
      entry->path_kind_ = PathKind::kExact;
      entry->path_ = match.path();
      break;
    case config::v1::RouteMatch::kSafeRegex: {
      auto regex = compileRegex(match.safe_regex(), match_field + ".safe_regex");
      if (!regex.ok()) return regex.status();
      entry->path_kind_ = PathKind::kRegex;
      entry->path_regex_ = std::move(*regex);
      break;
    }
    default:
      // No path specifier: every path (an empty prefix).
      entry->path_kind_ = PathKind::kPrefix;
      break;
  }
  for (int i = 0; i < match.headers_size(); ++i) {
    auto matcher =
        HeaderMatcher::create(match.headers(i), absl::StrCat(match_field, ".headers[", i, "]"));
    if (!matcher.ok()) return matcher.status();
    entry->headers_.push_back(std::move(*matcher));
  }
  for (int i = 0; i < match.query_parameters_size(); ++i) {
    auto matcher = QueryParameterMatcher::create(
        match.query_parameters(i), absl::StrCat(match_field, ".query_parameters[", i, "]"));
    if (!matcher.ok()) return matcher.status();
    entry->query_parameters_.push_back(std::move(*matcher));
  }

  const auto& action = route.route();
  const std::string action_field = field + ".route";
  switch (action.cluster_specifier_case()) {
    case config::v1::RouteAction::kCluster:
      if (action.cluster().empty()) {
        return absl::InvalidArgumentError(action_field + ".cluster: empty");
      }
      entry->clusters_.push_back(WeightedCluster{action.cluster(), 1});
      break;
    case config::v1::RouteAction::kWeightedClusters: {
      const auto& weighted = action.weighted_clusters().clusters();
      for (int i = 0; i < weighted.size(); ++i) {
        if (weighted[i].name().empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat(action_field, ".weighted_clusters.clusters[", i, "].name: empty"));
        }
        // Weight 0 keeps the cluster listed (for stats) but never picked.
        entry->clusters_.push_back(WeightedCluster{weighted[i].name(), weighted[i].weight()});
      }
      uint64_t total = 0;
      for (const auto& cluster : entry->clusters_) {
        total += cluster.weight;
        entry->cumulative_weights_.push_back(total);
      }
      if (total == 0) {
        return absl::InvalidArgumentError(action_field +
                                          ".weighted_clusters: no cluster with a positive weight");
      }
      break;
    }
    default:
      return absl::InvalidArgumentError(action_field + ": no cluster or weighted_clusters");
  }

  entry->timeout_ = kDefaultTimeout;
  if (action.has_timeout()) {
    auto timeout = toMillis(action.timeout(), action_field + ".timeout");
    if (!timeout.ok()) return timeout.status();
    entry->timeout_ = *timeout;
  }
  if (action.has_idle_timeout()) {
    auto idle = toMillis(action.idle_timeout(), action_field + ".idle_timeout");
    if (!idle.ok()) return idle.status();
    entry->idle_timeout_ = *idle;
  }

  if (action.has_retry_policy()) {
    auto policy = RetryPolicy::create(action.retry_policy(), action_field + ".retry_policy");
    if (!policy.ok()) return policy.status();
    entry->retry_policy_ = std::move(*policy);
  }

  if (route.has_local_rate_limit()) {
    auto limit = LocalRateLimit::create(route.local_rate_limit(), field + ".local_rate_limit");
    if (!limit.ok()) return limit.status();
    entry->rate_limit_ = std::move(*limit);
  }

  if (!action.prefix_rewrite().empty()) {
    if (entry->path_kind_ == PathKind::kRegex) {
      return absl::InvalidArgumentError(
          action_field + ".prefix_rewrite: needs a prefix or path match, not safe_regex");
    }
    entry->has_prefix_rewrite_ = true;
    entry->prefix_rewrite_ = action.prefix_rewrite();
  }
  entry->host_rewrite_ = action.host_rewrite_literal();

  for (int i = 0; i < action.hash_policy_size(); ++i) {
    if (action.hash_policy(i).header_name().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(action_field, ".hash_policy[", i, "].header_name: empty"));
    }
    entry->hash_headers_.push_back(absl::AsciiStrToLower(action.hash_policy(i).header_name()));
  }

  auto request =
      HeaderMutations::create(route.request_headers_to_add(), route.request_headers_to_remove(),
                              field, "request_headers_to_add", "request_headers_to_remove");
  if (!request.ok()) return request.status();
  entry->request_mutations_ = std::move(*request);
  auto response =
      HeaderMutations::create(route.response_headers_to_add(), route.response_headers_to_remove(),
                              field, "response_headers_to_add", "response_headers_to_remove");
  if (!response.ok()) return response.status();
  entry->response_mutations_ = std::move(*response);
  return entry;
}

bool RouteEntryImpl::matches(const http::RequestHead& head) const {
  const absl::string_view path = head.pathWithoutQuery();
  switch (path_kind_) {
    case PathKind::kPrefix:
      if (!absl::StartsWith(path, path_)) return false;
      break;
    case PathKind::kExact:
      if (path != path_) return false;
      break;
    case PathKind::kRegex:
      if (!fullMatch(path, *path_regex_)) return false;
      break;
  }
  for (const auto& matcher : headers_) {
    if (!matcher.matches(head)) return false;
  }
  if (!query_parameters_.empty()) {
    const absl::string_view query = head.query();
    for (const auto& matcher : query_parameters_) {
      if (!matcher.matches(query)) return false;
    }
  }
  return true;
}

const std::string& RouteEntryImpl::pickCluster(uint64_t random) const {
  if (clusters_.size() == 1) return clusters_[0].name;
  const uint64_t target = random % cumulative_weights_.back();
  const size_t index =
      std::upper_bound(cumulative_weights_.begin(), cumulative_weights_.end(), target) -
      cumulative_weights_.begin();
  return clusters_[index].name;
}

void RouteEntryImpl::finalizeRequest(http::RequestHead& head) const {
  // The matched part is path_ for both prefix and exact routes; the query string (after it)
  // is carried over untouched.
  if (has_prefix_rewrite_ && absl::StartsWith(head.path, path_)) {
    head.path.replace(0, path_.size(), prefix_rewrite_);
  }
  if (!host_rewrite_.empty()) head.authority = host_rewrite_;
  // All removals before any addition, so a virtual host's removal list (meant for what the
  // client sent) cannot strip a header the route has just added.
  request_mutations_.applyRemovals(head.headers);
  virtual_host_.request_mutations.applyRemovals(head.headers);
  request_mutations_.applyAdditions(head.headers);
  virtual_host_.request_mutations.applyAdditions(head.headers);
}

void RouteEntryImpl::finalizeResponse(http::ResponseHead& head) const {
  response_mutations_.applyRemovals(head.headers);
  virtual_host_.response_mutations.applyRemovals(head.headers);
  response_mutations_.applyAdditions(head.headers);
  virtual_host_.response_mutations.applyAdditions(head.headers);
}

std::optional<uint64_t> RouteEntryImpl::hashKey(const http::RequestHead& head) const {
  for (const auto& name : hash_headers_) {
    if (auto value = requestValue(head, name)) return hash64(*value);
  }
  return std::nullopt;
}

}  // namespace skiff::router
