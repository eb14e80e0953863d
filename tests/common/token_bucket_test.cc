// TokenBucket on simulated time: the test holds the clock and moves it; nothing sleeps.

#include "common/token_bucket.h"

#include <atomic>
#include <limits>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace skiff {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class TokenBucketTest : public ::testing::Test {
 protected:
  // Takes up to `count` tokens at the current time; returns how many it got.
  int take(TokenBucket& bucket, int count) {
    int taken = 0;
    for (int i = 0; i < count; ++i) taken += bucket.consume(now_) ? 1 : 0;
    return taken;
  }

  // An arbitrary starting point well past the clock's epoch, as SimulatedTimeSystem's.
  TokenBucket::Clock::time_point now_ = TokenBucket::Clock::time_point(seconds(1000000));
};

TEST_F(TokenBucketTest, StartsFullSoTheBurstGoesThrough) {
  TokenBucket bucket(5, 1, seconds(1));
  EXPECT_EQ(take(bucket, 8), 5);
}

TEST_F(TokenBucketTest, AddsTokensPerFillEachWholeInterval) {
  TokenBucket bucket(10, 3, milliseconds(100));
  EXPECT_EQ(take(bucket, 10), 10);
  now_ += milliseconds(99);
  EXPECT_EQ(take(bucket, 10), 0);  // a partial interval adds nothing ...
  now_ += milliseconds(1);
  EXPECT_EQ(take(bucket, 10), 3);  // ... a whole one adds tokens_per_fill
  now_ += milliseconds(250);
  EXPECT_EQ(take(bucket, 10), 6);  // two fills; the half interval left over is not lost:
  now_ += milliseconds(50);
  EXPECT_EQ(take(bucket, 10), 3);  // the fills keep their phase (100ms, 200ms, 300ms, 400ms)
}

TEST_F(TokenBucketTest, NeverHoldsMoreThanMaxTokens) {
  TokenBucket bucket(4, 3, seconds(1));
  EXPECT_EQ(take(bucket, 1), 1);
  now_ += seconds(5);
  EXPECT_EQ(take(bucket, 10), 4);
}

TEST_F(TokenBucketTest, TheRateOverALongWindowIsTheBurstPlusTheFills) {
  // 20 per second, burst 10, offered 100 per second for 10 seconds.
  TokenBucket bucket(10, 2, milliseconds(100));
  int accepted = 0;
  for (int tick = 0; tick < 1000; ++tick) {
    accepted += take(bucket, 1);
    now_ += milliseconds(10);
  }
  // The last request is at 9.99s: 99 fills of 2 tokens came due by then.
  EXPECT_EQ(accepted, 10 + 99 * 2);
}

TEST_F(TokenBucketTest, ALongIdlePeriodFillsTheBucketWithoutOverflowing) {
  const uint32_t max = std::numeric_limits<uint32_t>::max();
  TokenBucket bucket(max, max, milliseconds(1));
  EXPECT_TRUE(bucket.consume(now_));
  now_ += std::chrono::hours(24 * 365 * 100);
  EXPECT_TRUE(bucket.consume(now_));
  TokenBucket small(2, 1, milliseconds(1));
  EXPECT_EQ(take(small, 2), 2);
  now_ += std::chrono::hours(24 * 365 * 100);
  EXPECT_EQ(take(small, 5), 2);
}

TEST_F(TokenBucketTest, AReadingOlderThanTheLastFillAddsNothing) {
  // Workers read the clock before taking the lock: a reading may be older than the last fill.
  TokenBucket bucket(1, 1, seconds(1));
  EXPECT_TRUE(bucket.consume(now_));
  EXPECT_FALSE(bucket.consume(now_ + seconds(1) - milliseconds(1)));
  EXPECT_TRUE(bucket.consume(now_ + seconds(2)));  // two fills due; the bucket holds one
  EXPECT_FALSE(bucket.consume(now_ + seconds(1)));  // older than the last fill
  EXPECT_FALSE(bucket.consume(now_));
  EXPECT_TRUE(bucket.consume(now_ + seconds(3)));
}

TEST_F(TokenBucketTest, ARefundGoesBackButNotAboveMax) {
  TokenBucket bucket(2, 1, seconds(1));
  EXPECT_EQ(take(bucket, 2), 2);
  bucket.refund();
  EXPECT_EQ(take(bucket, 2), 1);
  bucket.refund();
  bucket.refund();
  bucket.refund();
  EXPECT_EQ(take(bucket, 5), 2);
}

TEST_F(TokenBucketTest, TimeUntilNextFillCountsFromTheFillSchedule) {
  TokenBucket bucket(1, 1, seconds(10));
  EXPECT_TRUE(bucket.consume(now_));  // the schedule starts here
  now_ += milliseconds(2500);
  EXPECT_EQ(bucket.timeUntilNextFill(now_), milliseconds(7500));
  now_ += milliseconds(7500);
  // The fill at +10s came due: the next is a whole interval away.
  EXPECT_EQ(bucket.timeUntilNextFill(now_), seconds(10));
  EXPECT_TRUE(bucket.consume(now_));
}

TEST_F(TokenBucketTest, ThreadsTakingAtOnceGetExactlyTheTokensThereAre) {
  TokenBucket bucket(1000, 1, seconds(1));
  std::atomic<int> taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) taken += bucket.consume(now_) ? 1 : 0;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(taken.load(), 1000);
}

}  // namespace
}  // namespace skiff
