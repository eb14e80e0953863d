#pragma once

// When the proxy renews its certificate, and how long it waits after a failed attempt. Pure
// arithmetic on times passed in, so tests drive it with any clock.

#include <chrono>
#include <cstdint>
#include <random>

namespace skiff::identity {

using SystemTime = std::chrono::system_clock::time_point;

inline constexpr double kDefaultRenewAtFraction = 0.5;
inline constexpr std::chrono::milliseconds kRetryBaseDelay{1000};
inline constexpr std::chrono::milliseconds kRetryMaxDelay{30000};
inline constexpr std::chrono::milliseconds kMinRenewalDelay{1000};

// not_before + fraction of the lifetime. A fraction outside (0, 1) means the default.
SystemTime renewalTime(SystemTime not_before, SystemTime not_after, double fraction);

// How long from `now` until `at`; zero when `at` has passed.
std::chrono::milliseconds delayUntil(SystemTime at, SystemTime now);

// Exponential backoff from base to max with "equal jitter": the n-th delay is uniform in
// [d/2, d] with d = min(max, base * 2^n), so retries spread out but never come back at once.
class RetryBackoff {
 public:
  explicit RetryBackoff(uint64_t seed, std::chrono::milliseconds base = kRetryBaseDelay,
                        std::chrono::milliseconds max = kRetryMaxDelay)
      : random_(seed), base_(base), max_(max) {}

  std::chrono::milliseconds next();
  void reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  std::mt19937_64 random_;
  std::chrono::milliseconds base_;
  std::chrono::milliseconds max_;
  int failures_ = 0;
};

}  // namespace skiff::identity
