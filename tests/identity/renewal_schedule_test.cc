#include "identity/renewal_schedule.h"

#include <gtest/gtest.h>

namespace skiff::identity {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

const SystemTime kIssued = std::chrono::system_clock::from_time_t(1'800'000'000);

TEST(RenewalScheduleTest, RenewsAtTheFractionOfTheLifetime) {
  const SystemTime not_after = kIssued + hours(24);
  EXPECT_EQ(renewalTime(kIssued, not_after, 0.5), kIssued + hours(12));
  EXPECT_EQ(renewalTime(kIssued, not_after, 0.75), kIssued + hours(18));
  // Unset (0) or out of range: the default half.
  EXPECT_EQ(renewalTime(kIssued, not_after, 0), kIssued + hours(12));
  EXPECT_EQ(renewalTime(kIssued, not_after, 1.5), kIssued + hours(12));
  // A certificate with no lifetime: renew at once.
  EXPECT_EQ(renewalTime(kIssued, kIssued, 0.5), kIssued);
}

TEST(RenewalScheduleTest, DelayFromAnInjectedNow) {
  const SystemTime at = kIssued + hours(12);
  EXPECT_EQ(delayUntil(at, kIssued), hours(12));
  EXPECT_EQ(delayUntil(at, kIssued + hours(11) + minutes(59)), minutes(1));
  EXPECT_EQ(delayUntil(at, at + seconds(5)), milliseconds(0));
  // Rounded up to whole milliseconds, never early.
  EXPECT_EQ(delayUntil(at, at - std::chrono::microseconds(1500)), milliseconds(2));
}

TEST(RetryBackoffTest, GrowsWithJitterUpToTheCapAndResets) {
  RetryBackoff backoff(42);
  const std::vector<int64_t> ceilings = {1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
  for (int64_t ceiling : ceilings) {
    const int64_t delay = backoff.next().count();
    EXPECT_GE(delay, ceiling / 2) << "ceiling " << ceiling;
    EXPECT_LE(delay, ceiling) << "ceiling " << ceiling;
  }
  EXPECT_EQ(backoff.failures(), static_cast<int>(ceilings.size()));
  // Many failures: still capped, no overflow.
  for (int i = 0; i < 100; ++i) EXPECT_LE(backoff.next().count(), 30000);
  backoff.reset();
  EXPECT_LE(backoff.next().count(), 1000);
}

TEST(RetryBackoffTest, JitterSpreadsProxies) {
  // Two proxies failing at the same moment do not retry at the same moment.
  RetryBackoff a(1), b(2);
  int same = 0;
  for (int i = 0; i < 6; ++i) same += a.next() == b.next();
  EXPECT_LT(same, 6);
}

}  // namespace
}  // namespace skiff::identity
