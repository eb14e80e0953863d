#include "common/token_bucket.h"

namespace skiff {

TokenBucket::TokenBucket(uint32_t max_tokens, uint32_t tokens_per_fill,
                         Clock::duration fill_interval)
    : max_tokens_(max_tokens),
      tokens_per_fill_(tokens_per_fill),
      fill_interval_(fill_interval),
      tokens_(max_tokens) {}

void TokenBucket::refill(Clock::time_point now) {
  if (!last_fill_) {
    last_fill_ = now;
    return;
  }
  if (now <= *last_fill_) return;
  const uint64_t fills = static_cast<uint64_t>((now - *last_fill_) / fill_interval_);
  if (fills == 0) return;
  *last_fill_ += fill_interval_ * fills;
  // Enough fills to fill the bucket from empty fill it; this also keeps the product below from
  // overflowing after a long idle period.
  const uint64_t missing = max_tokens_ - tokens_;
  if (fills >= (missing + tokens_per_fill_ - 1) / tokens_per_fill_) {
    tokens_ = max_tokens_;
  } else {
    tokens_ += static_cast<uint32_t>(fills * tokens_per_fill_);
  }
}

bool TokenBucket::consume(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mutex_);
  refill(now);
  if (tokens_ == 0) return false;
  --tokens_;
  return true;
}

void TokenBucket::refund() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (tokens_ < max_tokens_) ++tokens_;
}

TokenBucket::Clock::duration TokenBucket::timeUntilNextFill(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mutex_);
  refill(now);  // after which the next fill is less than one interval away (or `now` is late)
  return *last_fill_ + fill_interval_ - now;
}

}  // namespace skiff
