#include "identity/renewal_schedule.h"

#include <algorithm>

namespace skiff::identity {

SystemTime renewalTime(SystemTime not_before, SystemTime not_after, double fraction) {
  if (!(fraction > 0 && fraction < 1)) fraction = kDefaultRenewAtFraction;
  if (not_after <= not_before) return not_before;
  const auto lifetime = not_after - not_before;
  return not_before + std::chrono::duration_cast<SystemTime::duration>(lifetime * fraction);
}

std::chrono::milliseconds delayUntil(SystemTime at, SystemTime now) {
  if (at <= now) return std::chrono::milliseconds(0);
  // Rounded up: a timer that fires a little early would find the renewal time not yet reached.
  return std::chrono::ceil<std::chrono::milliseconds>(at - now);
}

std::chrono::milliseconds RetryBackoff::next() {
  // base * 2^failures without overflow: stop doubling once the cap is reached.
  std::chrono::milliseconds delay = base_;
  for (int i = 0; i < failures_ && delay < max_; ++i) delay *= 2;
  delay = std::min(delay, max_);
  ++failures_;
  const int64_t half = delay.count() / 2;
  std::uniform_int_distribution<int64_t> jitter(0, delay.count() - half);
  return std::chrono::milliseconds(half + jitter(random_));
}

}  // namespace skiff::identity
