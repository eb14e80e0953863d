#pragma once

// A local rate limit (config::v1::LocalRateLimit), compiled: the token bucket every worker takes
// from, and whether it refuses or only counts (shadow). Routes hold one (route.local_rate_limit)
// and so do listeners (http.local_rate_limit); filters/http/local_rate_limit.h enforces both.
// This compiler is the one authority on what is valid: the bootstrap validator and
// skiff-control's mesh loader call it too.

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/token_bucket.h"
#include "skiff/config/v1/rate_limit.pb.h"

namespace skiff::router {

class LocalRateLimit {
 public:
  static constexpr uint32_t kDefaultTokensPerFill = 1;
  static constexpr std::chrono::milliseconds kMinFillInterval{1};
  static constexpr std::chrono::seconds kMaxFillInterval{366 * 24 * 3600};

  // `field` is the limit's path, for errors ("virtual_hosts[0].routes[1].local_rate_limit").
  static absl::StatusOr<std::unique_ptr<LocalRateLimit>> create(
      const config::v1::LocalRateLimit& config, const std::string& field);

  // The bucket is the one thing a compiled (const) configuration lets workers change.
  TokenBucket& bucket() const { return *bucket_; }
  bool shadow() const { return shadow_; }

 private:
  LocalRateLimit(std::unique_ptr<TokenBucket> bucket, bool shadow)
      : bucket_(std::move(bucket)), shadow_(shadow) {}

  std::unique_ptr<TokenBucket> bucket_;
  bool shadow_;
};

}  // namespace skiff::router
