#include "router/retry_state.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

namespace skiff::router {

bool RetryState::idempotentMethod(absl::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}

std::optional<std::chrono::milliseconds> RetryState::parseRetryAfter(absl::string_view value) {
  uint32_t seconds = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(value), &seconds)) return std::nullopt;
  return std::chrono::milliseconds(uint64_t{seconds} * 1000);
}

bool RetryState::retriable(const TryOutcome& outcome) const {
  using Kind = TryOutcome::Kind;
  switch (outcome.kind) {
    // The application never saw these: any method may go again.
    case Kind::kConnectFailure:
      return policy_.has(RetryPolicy::kConnectFailure);
    case Kind::kRefused:
      return policy_.has(RetryPolicy::kRefusedStream);
    // The application may have acted on these: only methods that can be repeated, unless the
    // policy says otherwise.
    case Kind::kReset:
      return (idempotent_ || policy_.retry_non_idempotent) && policy_.has(RetryPolicy::kReset);
    case Kind::kPerTryTimeout:
      return (idempotent_ || policy_.retry_non_idempotent) &&
             (policy_.has(RetryPolicy::kReset) || policy_.retriableStatus(504));
    case Kind::kResponse:
      // gRPC calls are all POSTs: naming a gRPC status is the opt-in (and UNAVAILABLE means
      // the server did not act on the call, by gRPC's own convention).
      if (outcome.grpc_status >= 0 && policy_.retriableGrpcStatus(outcome.grpc_status)) {
        return true;
      }
      if (!idempotent_ && !policy_.retry_non_idempotent) return false;
      return policy_.retriableStatus(outcome.status);
  }
  return false;
}

RetryState::Decision RetryState::decide(const TryOutcome& outcome, bool body_replayable) {
  if (!body_replayable || !retriable(outcome)) return Decision::kNotRetriable;
  if (retries_done_ >= policy_.num_retries) return Decision::kLimitExceeded;
  ++retries_done_;
  return Decision::kRetry;
}

std::chrono::milliseconds RetryState::backoff(Random& random) const {
  // Capped exponential ceiling, then a uniformly random wait below it (AWS's "full jitter"):
  // clients that failed together do not come back together.
  uint32_t exponent = retries_done_ == 0 ? 0 : std::min<uint32_t>(retries_done_ - 1, 20);
  int64_t ceiling = std::min<int64_t>(policy_.base_interval.count() << exponent,
                                      policy_.max_interval.count());
  if (ceiling <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(random.nextBelow(static_cast<uint64_t>(ceiling)));
}

}  // namespace skiff::router
