#pragma once

// One request's retries: whether the way a try ended may be tried again under the route's
// policy, and how long to wait first. Pure logic (the Router owns the timers and the budget),
// so every rule is unit-tested without I/O.

#include <chrono>
#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "common/random.h"
#include "router/route_retry_policy.h"

namespace skiff::router {

class RetryState {
 public:
  // How a try ended.
  struct TryOutcome {
    enum class Kind {
      kConnectFailure,  // no connection (refused, unreachable, timed out, TLS failed)
      kRefused,         // the upstream provably did not process it (refused stream, stale
                        // keep-alive connection)
      kReset,           // the connection broke after the request went out
      kPerTryTimeout,   // the try passed per_try_timeout
      kResponse,        // a response head arrived
    };
    Kind kind = Kind::kResponse;
    int status = 0;       // kResponse
    int grpc_status = -1;  // kResponse: a trailers-only response's grpc-status, else -1
  };
  enum class Decision {
    kRetry,          // try again (a retry is now counted)
    kNotRetriable,   // the outcome stands
    kLimitExceeded,  // retriable, but no retry left (flag URX)
  };

  // `idempotent`: the method may be repeated (RFC 9110: GET, HEAD, OPTIONS, TRACE, PUT,
  // DELETE). `body_replayable`: the whole request body is kept (or there is none).
  RetryState(const RetryPolicy& policy, bool idempotent) : policy_(policy), idempotent_(idempotent) {}

  Decision decide(const TryOutcome& outcome, bool body_replayable);
  // The wait before retry number retriesDone(): full jitter in [0, min(max, base * 2^(n-1))).
  std::chrono::milliseconds backoff(Random& random) const;
  uint32_t retriesDone() const { return retries_done_; }
  const RetryPolicy& policy() const { return policy_; }

  static bool idempotentMethod(absl::string_view method);
  // A Retry-After value in whole seconds (the HTTP-date form is not honoured).
  static std::optional<std::chrono::milliseconds> parseRetryAfter(absl::string_view value);

 private:
  bool retriable(const TryOutcome& outcome) const;

  const RetryPolicy& policy_;
  bool idempotent_;
  uint32_t retries_done_ = 0;
};

}  // namespace skiff::router
