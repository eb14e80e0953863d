#include "upstream/outlier_ejections.h"

#include <gtest/gtest.h>

#include <set>

#include "upstream/host.h"

namespace skiff::upstream {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Time = OutlierEjections::Time;

class OutlierEjectionsTest : public ::testing::Test {
 protected:
  Time at(seconds s) { return Time{} + s; }
  OutlierEjections ejections_;  // defaults: 30s base, 300s cap, 10%
};

TEST_F(OutlierEjectionsTest, AnEjectedHostComesBackAtTheFirstReviewAfterItsTime) {
  EXPECT_EQ(ejections_.onFailureStreak("a", at(seconds(0)), 3),
            OutlierEjections::Decision::kEjected);
  EXPECT_TRUE(ejections_.ejected("a"));
  EXPECT_EQ(ejections_.onFailureStreak("a", at(seconds(1)), 3),
            OutlierEjections::Decision::kAlreadyEjected);
  EXPECT_TRUE(ejections_.review(at(seconds(29))).empty());
  EXPECT_EQ(ejections_.review(at(seconds(30))), std::vector<std::string>{"a"});
  EXPECT_FALSE(ejections_.ejected("a"));
}

TEST_F(OutlierEjectionsTest, EachEjectionLastsLongerUpToTheCap) {
  Time now = at(seconds(0));
  for (int n = 1; n <= 12; ++n) {
    ASSERT_EQ(ejections_.onFailureStreak("a", now, 1), OutlierEjections::Decision::kEjected);
    auto expected = std::min<milliseconds>(seconds(30) * n, seconds(300));
    EXPECT_EQ(ejections_.ejectedUntil("a") - now, expected) << n;
    now = ejections_.ejectedUntil("a");
    ASSERT_EQ(ejections_.review(now).size(), 1u);
  }
}

TEST_F(OutlierEjectionsTest, AHostThatBehavesWorksItsMultiplierDown) {
  ejections_.onFailureStreak("a", at(seconds(0)), 1);
  ejections_.review(at(seconds(30)));  // back
  ejections_.onFailureStreak("a", at(seconds(31)), 1);
  EXPECT_EQ(ejections_.ejectionMultiplier("a"), 2u);
  ejections_.review(at(seconds(91)));  // back after 60s
  ejections_.review(at(seconds(101)));
  EXPECT_EQ(ejections_.ejectionMultiplier("a"), 1u);
  ejections_.review(at(seconds(111)));
  EXPECT_EQ(ejections_.ejectionMultiplier("a"), 0u);
  ejections_.onFailureStreak("a", at(seconds(120)), 1);
  EXPECT_EQ(ejections_.ejectedUntil("a"), at(seconds(150)));  // the base time again
}

TEST_F(OutlierEjectionsTest, AtMostTheMaxPercentIsOutButAlwaysOneMayBe) {
  // 10% of 3 hosts is 0: one host may still go.
  EXPECT_EQ(ejections_.onFailureStreak("a", at(seconds(0)), 3),
            OutlierEjections::Decision::kEjected);
  EXPECT_EQ(ejections_.onFailureStreak("b", at(seconds(0)), 3),
            OutlierEjections::Decision::kOverMaxEjectionPercent);
  EXPECT_FALSE(ejections_.ejected("b"));

  OutlierEjections::Settings half;
  half.max_ejection_percent = 50;
  OutlierEjections wide;
  wide.setSettings(half);
  for (const char* host : {"a", "b", "c", "d", "e"}) wide.onFailureStreak(host, at(seconds(0)), 10);
  EXPECT_EQ(wide.ejectedCount(), 5u);
  EXPECT_EQ(wide.onFailureStreak("f", at(seconds(0)), 10),
            OutlierEjections::Decision::kOverMaxEjectionPercent);
}

TEST_F(OutlierEjectionsTest, HostsThatLeftAreForgotten) {
  ejections_.onFailureStreak("a", at(seconds(0)), 1);
  ejections_.retainOnly({"b"});
  EXPECT_FALSE(ejections_.ejected("a"));
  EXPECT_EQ(ejections_.ejectedCount(), 0u);
}

TEST_F(OutlierEjectionsTest, SettingsComeFromTheConfig) {
  config::v1::OutlierDetection config;
  config.mutable_base_ejection_time()->set_seconds(2);
  config.mutable_max_ejection_time()->set_seconds(5);
  config.mutable_max_ejection_percent()->set_value(50);
  auto settings = OutlierEjections::settingsFrom(config);
  EXPECT_EQ(settings.base_ejection_time, seconds(2));
  EXPECT_EQ(settings.max_ejection_time, seconds(5));
  EXPECT_EQ(settings.max_ejection_percent, 50u);
}

TEST(HostsToBalanceTest, UsableHostsOnlyUntilFewerThanHalfAreLeft) {
  auto all = std::make_shared<HostVector>();
  for (uint16_t port : {1, 2, 3, 4}) all->push_back(*makeHost("10.0.0.1", port, 1));
  std::shared_ptr<const HostVector> hosts = all;
  auto without = [](std::set<uint16_t> out) {
    return [out](const Host& host) {
      return !out.count(static_cast<uint16_t>(host.address.back() - '0'));
    };
  };
  EXPECT_EQ(hostsToBalance(hosts, without({})), hosts);  // the same vector, not a copy
  EXPECT_EQ(hostsToBalance(hosts, without({1}))->size(), 3u);
  EXPECT_EQ(hostsToBalance(hosts, without({1, 2}))->size(), 2u);  // half: still only usable
  EXPECT_EQ(hostsToBalance(hosts, without({1, 2, 3})), hosts);    // panic: all of them
}

}  // namespace
}  // namespace skiff::upstream
