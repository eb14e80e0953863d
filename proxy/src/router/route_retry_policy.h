#pragma once

// A route's retry policy, compiled: which outcomes of a try may be tried again, how often,
// how long each try may take, and how long to wait in between. The decisions themselves are
// RetryState's (router/retry_state.h); this is the configuration they read.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "skiff/config/v1/route.pb.h"

namespace skiff::router {

struct RetryPolicy {
  // retry_on conditions, as bits.
  enum Condition : uint32_t {
    k5xx = 1 << 0,
    kGatewayError = 1 << 1,
    kReset = 1 << 2,
    kConnectFailure = 1 << 3,
    kRefusedStream = 1 << 4,
    kRetriableStatusCodes = 1 << 5,
    kGrpcUnavailable = 1 << 6,
    kGrpcCancelled = 1 << 7,
    kGrpcDeadlineExceeded = 1 << 8,
    kGrpcResourceExhausted = 1 << 9,
  };
  static constexpr uint32_t kMaxRetries = 10;
  static constexpr std::chrono::milliseconds kDefaultBaseInterval{25};
  static constexpr std::chrono::milliseconds kDefaultMaxInterval{250};
  static constexpr uint32_t kDefaultMaxBodyBytes = 64 * 1024;

  // The policy of a route without retry_policy: one transparent retry of a request the
  // application never saw (connect failure, refused stream).
  static RetryPolicy transparentOnly();
  // `field` is the policy's path, for errors ("virtual_hosts[0].routes[1].route.retry_policy").
  static absl::StatusOr<RetryPolicy> create(const config::v1::RetryPolicy& config,
                                            const std::string& field);

  bool has(Condition condition) const { return (conditions & condition) != 0; }
  bool retriableStatus(int status) const;
  // The gRPC status (from a trailers-only response) is one retry_on names.
  bool retriableGrpcStatus(int grpc_status) const;

  uint32_t conditions = 0;
  uint32_t num_retries = 0;
  std::chrono::milliseconds per_try_timeout{0};  // 0: none
  std::vector<uint32_t> retriable_status_codes;
  bool retry_non_idempotent = false;
  std::chrono::milliseconds base_interval = kDefaultBaseInterval;
  std::chrono::milliseconds max_interval = kDefaultMaxInterval;
  uint32_t max_body_bytes = kDefaultMaxBodyBytes;
  // Configured by the route (false: the transparent default).
  bool configured = false;
};

}  // namespace skiff::router
