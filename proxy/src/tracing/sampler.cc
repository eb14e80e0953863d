#include "tracing/sampler.h"

#include <cmath>

namespace skiff::tracing {

RatioSampler::RatioSampler(double ratio) {
  if (!(ratio > 0)) ratio = 0;  // NaN too
  if (ratio > 1) ratio = 1;
  ratio_ = ratio;
  always_ = ratio >= 1;
  // 2^63 * ratio, exact in a double for the ratios people write; below 2^63 when ratio < 1.
  upper_bound_ = always_ ? 0 : static_cast<uint64_t>(std::ldexp(ratio, 63));
}

}  // namespace skiff::tracing
