#include "tracing/sampler.h"

#include "common/random.h"
#include "gtest/gtest.h"

namespace skiff::tracing {
namespace {

TEST(RatioSamplerTest, DecidesFromTheLowerHalfOfTheTraceId) {
  // OpenTelemetry's TraceIdRatioBased: (low >> 1) < ratio * 2^63.
  RatioSampler half(0.5);
  EXPECT_TRUE(half.sampled(TraceId{~0ULL, 0}));
  EXPECT_TRUE(half.sampled(TraceId{0, 0x7fffffffffffffffULL}));   // >> 1 is just below 2^62
  EXPECT_FALSE(half.sampled(TraceId{0, 0x8000000000000000ULL}));  // >> 1 is 2^62
  EXPECT_FALSE(half.sampled(TraceId{0, ~0ULL}));
  // The high half does not matter: every hop decides alike, whatever width B3 used.
  EXPECT_EQ(half.sampled(TraceId{1, 0x1234}), half.sampled(TraceId{0, 0x1234}));
}

TEST(RatioSamplerTest, ZeroAndOneAreExact) {
  RatioSampler never(0);
  RatioSampler always(1);
  for (uint64_t low : {0ULL, 1ULL, 0x7fffffffffffffffULL, ~0ULL}) {
    EXPECT_FALSE(never.sampled(TraceId{1, low}));
    EXPECT_TRUE(always.sampled(TraceId{1, low}));
  }
  EXPECT_EQ(RatioSampler(-1).ratio(), 0);
  EXPECT_EQ(RatioSampler(2).ratio(), 1);
}

TEST(RatioSamplerTest, RatioHoldsOverRandomIds) {
  FastRandom random(7);
  for (double ratio : {0.01, 0.1, 0.5, 0.9}) {
    RatioSampler sampler(ratio);
    int sampled = 0;
    constexpr int kIds = 200000;
    for (int i = 0; i < kIds; ++i)
      sampled += sampler.sampled(TraceId{random.next(), random.next()});
    EXPECT_NEAR(static_cast<double>(sampled) / kIds, ratio, 0.005) << ratio;
  }
}

TEST(DecideSamplingTest, ParentBasedForcedAndRatio) {
  const TraceId id{1, ~0ULL};  // a trace the ratio sampler drops at 0.5
  RatioSampler half(0.5);
  ASSERT_FALSE(half.sampled(id));
  // The parent's decision is followed both ways.
  EXPECT_EQ(decideSampling(Sampling::kSample, false, id, half), Sampling::kSample);
  EXPECT_EQ(decideSampling(Sampling::kDrop, false, TraceId{1, 0}, half), Sampling::kDrop);
  // No decision: the ratio.
  EXPECT_EQ(decideSampling(Sampling::kUnset, false, id, half), Sampling::kDrop);
  EXPECT_EQ(decideSampling(Sampling::kUnset, false, TraceId{1, 0}, half), Sampling::kSample);
  // Forced beats a parent's "no" and the ratio.
  EXPECT_EQ(decideSampling(Sampling::kDrop, true, id, half), Sampling::kSample);
  EXPECT_EQ(decideSampling(Sampling::kUnset, true, id, RatioSampler(0)), Sampling::kSample);
  // B3 debug stays debug (it forces every later hop too).
  EXPECT_EQ(decideSampling(Sampling::kDebug, false, id, RatioSampler(0)), Sampling::kDebug);
  EXPECT_TRUE(isSampled(Sampling::kDebug));
  EXPECT_TRUE(isSampled(Sampling::kSample));
  EXPECT_FALSE(isSampled(Sampling::kDrop));
  EXPECT_FALSE(isSampled(Sampling::kUnset));
}

}  // namespace
}  // namespace skiff::tracing
