#pragma once

// A token bucket shared by threads: every worker of a listener takes from the same one. It is
// refilled lazily from the time elapsed (no timer): each call brings the fills that came due
// since the last one, in whole fill intervals, so the rate is exact over any window and the
// phase of the fills does not drift.
//
// The caller passes the current monotonic time (its dispatcher's TimeSource) instead of the
// bucket holding a clock: each worker reads its own TimeSource, and tests drive the bucket
// with simulated time without sleeping. Readings from several threads may arrive slightly out
// of order; a time before the last fill adds nothing.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

namespace skiff {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  // `max_tokens` and `tokens_per_fill` at least 1, `fill_interval` positive (the caller
  // validates). The bucket is full until its first use, which starts the fill schedule.
  TokenBucket(uint32_t max_tokens, uint32_t tokens_per_fill, Clock::duration fill_interval);
  TokenBucket(const TokenBucket&) = delete;
  TokenBucket& operator=(const TokenBucket&) = delete;

  // Takes one token; false when the bucket is empty.
  bool consume(Clock::time_point now);
  // Gives back a token consume() took for a request that was refused anyway (never above
  // max_tokens).
  void refund();
  // How long from `now` until the next fill (always positive: fills due by `now` are made).
  Clock::duration timeUntilNextFill(Clock::time_point now);

  uint32_t maxTokens() const { return max_tokens_; }
  uint32_t tokensPerFill() const { return tokens_per_fill_; }
  Clock::duration fillInterval() const { return fill_interval_; }

 private:
  // Adds the fills due by `now`. Holds mutex_.
  void refill(Clock::time_point now);

  const uint32_t max_tokens_;
  const uint32_t tokens_per_fill_;
  const Clock::duration fill_interval_;
  // A mutex rather than atomics: the critical section is a few arithmetic steps, and two
  // values (tokens, last fill) change together.
  std::mutex mutex_;
  uint32_t tokens_;
  std::optional<Clock::time_point> last_fill_;  // unset until the first use
};

}  // namespace skiff
