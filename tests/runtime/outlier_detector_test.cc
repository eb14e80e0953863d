// OutlierDetector on simulated time: workers' reports, the decision on the main thread, the
// review that brings a host back.

#include "upstream/outlier_detector.h"

#include <gtest/gtest.h>

#include "event/simulated_time_system.h"

namespace skiff::upstream {
namespace {

using std::chrono::milliseconds;

class OutlierDetectorTest : public ::testing::Test {
 protected:
  OutlierDetectorTest() : dispatcher_("main", time_), registry_(1) {
    for (uint16_t port : {1, 2, 3}) hosts_.push_back(*makeHost("10.0.0.1", port, 1));
    detector_ = std::make_shared<OutlierDetector>(dispatcher_, registry_, "backend",
                                                  [this] { ++changes_; });
    config_.mutable_interval()->set_nanos(100 * 1000 * 1000);  // reviews every 100ms
    config_.mutable_base_ejection_time()->set_seconds(1);
    configure();
  }
  ~OutlierDetectorTest() override { detector_->stopTimer(); }

  void configure() {
    detector_->configure(&config_);
    detector_->setHosts(hosts_);
  }
  void runPosted() {  // what workers posted runs on the main loop's next turn
    dispatcher_.post([this] { dispatcher_.exit(); });
    dispatcher_.run();
  }
  void fail(const Host& host, int times, int status = 503) {
    for (int i = 0; i < times; ++i) detector_->reportStatus(host, status);
    runPosted();
  }

  event::SimulatedTimeSystem time_;
  event::Dispatcher dispatcher_;
  stats::Registry registry_;
  HostVector hosts_;
  config::v1::OutlierDetection config_;
  std::shared_ptr<OutlierDetector> detector_;
  int changes_ = 0;
};

TEST_F(OutlierDetectorTest, FiveFailuresInARowEjectAndTheReviewBringsTheHostBack) {
  fail(*hosts_[0], 4);
  EXPECT_FALSE(detector_->ejected(hosts_[0]->address));
  fail(*hosts_[0], 1);
  EXPECT_TRUE(detector_->ejected(hosts_[0]->address));
  EXPECT_EQ(changes_, 1);
  time_.advanceTimeAndRun(milliseconds(900));
  EXPECT_TRUE(detector_->ejected(hosts_[0]->address));
  time_.advanceTimeAndRun(milliseconds(200));  // 1s passed: the next review brings it back
  EXPECT_FALSE(detector_->ejected(hosts_[0]->address));
  EXPECT_EQ(changes_, 2);
}

TEST_F(OutlierDetectorTest, ASuccessBreaksTheStreak) {
  fail(*hosts_[0], 4);
  detector_->reportStatus(*hosts_[0], 200);
  fail(*hosts_[0], 4);
  EXPECT_FALSE(detector_->ejected(hosts_[0]->address));
  EXPECT_EQ(changes_, 0);
}

TEST_F(OutlierDetectorTest, GatewayFailuresHaveTheirOwnStreakAndLocalFailuresCount) {
  config_.mutable_consecutive_5xx()->set_value(0);  // off
  config_.mutable_consecutive_gateway_failure()->set_value(3);
  configure();
  fail(*hosts_[1], 2, 502);
  fail(*hosts_[1], 1, 500);  // a 5xx that is no gateway error ends the gateway streak
  fail(*hosts_[1], 2, 504);
  EXPECT_FALSE(detector_->ejected(hosts_[1]->address));
  detector_->reportLocalFailure(*hosts_[1]);  // a connect failure, a timeout, a reset
  runPosted();
  EXPECT_TRUE(detector_->ejected(hosts_[1]->address));
}

TEST_F(OutlierDetectorTest, OnlyOneOfThreeHostsMayBeOut) {
  fail(*hosts_[0], 5);
  fail(*hosts_[1], 5);
  EXPECT_TRUE(detector_->ejected(hosts_[0]->address));
  EXPECT_FALSE(detector_->ejected(hosts_[1]->address));
  EXPECT_EQ(changes_, 1);
}

TEST_F(OutlierDetectorTest, TurnedOffEveryHostComesBackAndReportsAreIgnored) {
  fail(*hosts_[0], 5);
  ASSERT_TRUE(detector_->ejected(hosts_[0]->address));
  detector_->configure(nullptr);
  EXPECT_FALSE(detector_->ejected(hosts_[0]->address));
  fail(*hosts_[2], 10);
  EXPECT_FALSE(detector_->ejected(hosts_[2]->address));
}

}  // namespace
}  // namespace skiff::upstream
