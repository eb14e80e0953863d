#include "router/route_retry_policy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace skiff::router {
namespace {

struct NamedCondition {
  const char* name;
  RetryPolicy::Condition condition;
};

constexpr NamedCondition kConditions[] = {
    {"5xx", RetryPolicy::k5xx},
    {"gateway-error", RetryPolicy::kGatewayError},
    {"reset", RetryPolicy::kReset},
    {"connect-failure", RetryPolicy::kConnectFailure},
    {"refused-stream", RetryPolicy::kRefusedStream},
    {"retriable-status-codes", RetryPolicy::kRetriableStatusCodes},
    {"unavailable", RetryPolicy::kGrpcUnavailable},
    {"cancelled", RetryPolicy::kGrpcCancelled},
    {"deadline-exceeded", RetryPolicy::kGrpcDeadlineExceeded},
    {"resource-exhausted", RetryPolicy::kGrpcResourceExhausted},
};

absl::StatusOr<std::chrono::milliseconds> positiveMillis(const google::protobuf::Duration& d,
                                                         const std::string& field) {
  if (d.seconds() < 0 || d.nanos() < 0 || (d.seconds() == 0 && d.nanos() == 0)) {
    return absl::InvalidArgumentError(field + ": must be positive");
  }
  // Rounds up: a sub-millisecond duration must not become 0 ("none").
  int64_t ms = d.seconds() * 1000 + (d.nanos() + 999999) / 1000000;
  return std::chrono::milliseconds(ms);
}

}  // namespace

RetryPolicy RetryPolicy::transparentOnly() {
  RetryPolicy policy;
  policy.conditions = kConnectFailure | kRefusedStream;
  policy.num_retries = 1;
  return policy;
}

absl::StatusOr<RetryPolicy> RetryPolicy::create(const config::v1::RetryPolicy& config,
                                                const std::string& field) {
  RetryPolicy policy;
  policy.configured = true;
  for (int i = 0; i < config.retry_on_size(); ++i) {
    const std::string& name = config.retry_on(i);
    auto it = std::find_if(std::begin(kConditions), std::end(kConditions),
                           [&](const NamedCondition& c) { return name == c.name; });
    if (it == std::end(kConditions)) {
      std::string known;
      for (const auto& c : kConditions) absl::StrAppend(&known, known.empty() ? "" : ", ", c.name);
      return absl::InvalidArgumentError(absl::StrCat(field, ".retry_on[", i, "]: unknown \"", name,
                                                     "\" (known: ", known, ")"));
    }
    policy.conditions |= it->condition;
  }
  // The transparent retry of what the application never saw stays on in any policy.
  policy.conditions |= kConnectFailure | kRefusedStream;
  policy.num_retries = config.has_num_retries() ? config.num_retries().value() : 1;
  if (policy.num_retries > kMaxRetries) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".num_retries: ", policy.num_retries, " is more than ", kMaxRetries));
  }
  if (config.has_per_try_timeout()) {
    auto timeout = positiveMillis(config.per_try_timeout(), field + ".per_try_timeout");
    if (!timeout.ok()) return timeout.status();
    policy.per_try_timeout = *timeout;
  }
  for (int i = 0; i < config.retriable_status_codes_size(); ++i) {
    uint32_t code = config.retriable_status_codes(i);
    if (code < 100 || code > 599) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".retriable_status_codes[", i,
                                                     "]: ", code, " is not an HTTP status"));
    }
    policy.retriable_status_codes.push_back(code);
  }
  if (policy.has(kRetriableStatusCodes) && policy.retriable_status_codes.empty()) {
    return absl::InvalidArgumentError(
        field + ".retriable_status_codes: required by retry_on \"retriable-status-codes\"");
  }
  policy.retry_non_idempotent = config.retry_non_idempotent();
  if (config.has_base_interval()) {
    auto base = positiveMillis(config.base_interval(), field + ".base_interval");
    if (!base.ok()) return base.status();
    policy.base_interval = *base;
  }
  if (config.has_max_interval()) {
    auto max = positiveMillis(config.max_interval(), field + ".max_interval");
    if (!max.ok()) return max.status();
    policy.max_interval = *max;
  }
  if (policy.max_interval < policy.base_interval) {
    return absl::InvalidArgumentError(field + ".max_interval: less than base_interval");
  }
  if (config.has_max_body_bytes()) policy.max_body_bytes = config.max_body_bytes().value();
  return policy;
}

bool RetryPolicy::retriableStatus(int status) const {
  if (has(k5xx) && status >= 500 && status <= 599) return true;
  if (has(kGatewayError) && (status == 502 || status == 503 || status == 504)) return true;
  if (has(kRetriableStatusCodes)) {
    for (uint32_t code : retriable_status_codes) {
      if (static_cast<int>(code) == status) return true;
    }
  }
  return false;
}

bool RetryPolicy::retriableGrpcStatus(int grpc_status) const {
  switch (grpc_status) {
    case 1:
      return has(kGrpcCancelled);
    case 4:
      return has(kGrpcDeadlineExceeded);
    case 8:
      return has(kGrpcResourceExhausted);
    case 14:
      return has(kGrpcUnavailable);
    default:
      return false;
  }
}

}  // namespace skiff::router
