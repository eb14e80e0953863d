#include "router/route_rate_limit.h"

#include "absl/strings/str_cat.h"

namespace skiff::router {

absl::StatusOr<std::unique_ptr<LocalRateLimit>> LocalRateLimit::create(
    const config::v1::LocalRateLimit& config, const std::string& field) {
  if (config.max_tokens() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".max_tokens: required (at least 1: the burst allowed)"));
  }
  const uint32_t tokens_per_fill =
      config.has_tokens_per_fill() ? config.tokens_per_fill().value() : kDefaultTokensPerFill;
  if (tokens_per_fill == 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".tokens_per_fill: must be at least 1"));
  }
  if (!config.has_fill_interval()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".fill_interval: required (e.g. \"1s\": tokens_per_fill are added "
                            "every fill_interval)"));
  }
  const google::protobuf::Duration& interval = config.fill_interval();
  if (interval.seconds() < 0 || interval.nanos() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".fill_interval: must not be negative"));
  }
  if (interval.seconds() > kMaxFillInterval.count()) {
    // Also keeps the nanosecond arithmetic below far from overflowing.
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".fill_interval: must be at most ", kMaxFillInterval.count(), "s"));
  }
  const auto fill_interval =
      std::chrono::seconds(interval.seconds()) + std::chrono::nanoseconds(interval.nanos());
  if (fill_interval < kMinFillInterval) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".fill_interval: must be at least 1ms"));
  }
  auto bucket = std::make_unique<TokenBucket>(
      config.max_tokens(), tokens_per_fill,
      std::chrono::duration_cast<TokenBucket::Clock::duration>(fill_interval));
  return std::unique_ptr<LocalRateLimit>(new LocalRateLimit(std::move(bucket), config.shadow()));
}

}  // namespace skiff::router
