#include "event/simulated_time_system.h"

#include <memory>
#include <string>
#include <vector>

#include "event/dispatcher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::event {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;

// Each test drives timers through a Dispatcher, the way code under test will.
class SimulatedTimeSystemTest : public ::testing::Test {
 protected:
  // Milliseconds since the test started, as the time system sees it.
  int64_t elapsedMs() {
    return std::chrono::duration_cast<milliseconds>(time_.monotonicTime() - start_).count();
  }

  // A timer that records "<name>@<elapsed ms>" when it fires.
  std::unique_ptr<Timer> recorder(const std::string& name) {
    return dispatcher_.createTimer(
        [this, name] { fired_.push_back(name + "@" + std::to_string(elapsedMs())); });
  }

  SimulatedTimeSystem time_;
  Dispatcher dispatcher_{"test", time_};
  MonotonicTime start_ = time_.monotonicTime();
  std::vector<std::string> fired_;
};

TEST_F(SimulatedTimeSystemTest, StartsAtFixedTimes) {
  EXPECT_EQ(time_.monotonicTime(), SimulatedTimeSystem::initialMonotonicTime());
  EXPECT_EQ(time_.systemTime(), SimulatedTimeSystem::initialSystemTime());
  EXPECT_EQ(std::chrono::system_clock::to_time_t(time_.systemTime()), 1767225600);  // 2026-01-01
  EXPECT_EQ(&dispatcher_.timeSource(), &time_);
}

TEST_F(SimulatedTimeSystemTest, MonotonicAndSystemTimeAdvanceTogether) {
  const SystemTime system_start = time_.systemTime();
  time_.advanceTimeAndRun(milliseconds(1500));
  EXPECT_EQ(time_.monotonicTime() - start_, milliseconds(1500));
  EXPECT_EQ(time_.systemTime() - system_start, milliseconds(1500));

  // And the same seen from inside a callback, part-way through an advance.
  std::chrono::nanoseconds monotonic_seen{};
  std::chrono::nanoseconds system_seen{};
  auto timer = dispatcher_.createTimer([&] {
    monotonic_seen = time_.monotonicTime() - start_;
    system_seen = time_.systemTime() - system_start;
  });
  timer->enable(milliseconds(200));
  time_.advanceTimeAndRun(milliseconds(1000));
  EXPECT_EQ(monotonic_seen, milliseconds(1700));
  EXPECT_EQ(system_seen, milliseconds(1700));
  EXPECT_EQ(elapsedMs(), 2500);
}

TEST_F(SimulatedTimeSystemTest, TimeStandsStillUntilAdvanced) {
  auto timer = recorder("a");
  timer->enable(milliseconds(10));
  EXPECT_EQ(time_.monotonicTime(), start_);
  time_.advanceTimeAndRun(milliseconds(9));
  EXPECT_TRUE(fired_.empty());
  EXPECT_TRUE(timer->enabled());
  time_.advanceTimeAndRun(milliseconds(1));
  EXPECT_THAT(fired_, ElementsAre("a@10"));
}

TEST_F(SimulatedTimeSystemTest, FiresInDeadlineOrderThenArmingOrder) {
  auto late = recorder("late");
  auto early = recorder("early");
  auto tie_first = recorder("tie1");
  auto tie_second = recorder("tie2");
  auto tie_third = recorder("tie3");
  late->enable(milliseconds(30));
  tie_first->enable(milliseconds(20));
  early->enable(milliseconds(5));
  tie_second->enable(milliseconds(20));
  tie_third->enable(milliseconds(20));
  time_.advanceTimeAndRun(milliseconds(100));
  EXPECT_THAT(fired_, ElementsAre("early@5", "tie1@20", "tie2@20", "tie3@20", "late@30"));
  EXPECT_EQ(elapsedMs(), 100);  // ends at start + delta, not at the last deadline
}

TEST_F(SimulatedTimeSystemTest, ZeroTimeoutFiresOnZeroAdvance) {
  auto timer = recorder("zero");
  timer->enable(milliseconds(0));
  time_.advanceTimeAndRun(milliseconds(0));
  EXPECT_THAT(fired_, ElementsAre("zero@0"));
  EXPECT_FALSE(timer->enabled());
}

TEST_F(SimulatedTimeSystemTest, NegativeTimeoutCountsAsZero) {
  auto timer = recorder("negative");
  timer->enable(milliseconds(-5));
  time_.advanceTimeAndRun(milliseconds(0));
  EXPECT_THAT(fired_, ElementsAre("negative@0"));
}

TEST_F(SimulatedTimeSystemTest, ReEnableMovesTheDeadline) {
  auto a = recorder("a");
  auto b = recorder("b");
  a->enable(milliseconds(10));
  b->enable(milliseconds(10));
  time_.advanceTimeAndRun(milliseconds(5));
  a->enable(milliseconds(10));  // now due at 15: later, and behind b
  time_.advanceTimeAndRun(milliseconds(5));
  EXPECT_THAT(fired_, ElementsAre("b@10"));
  a->enable(milliseconds(1));  // earlier than before
  time_.advanceTimeAndRun(milliseconds(10));
  EXPECT_THAT(fired_, ElementsAre("b@10", "a@11"));
  EXPECT_EQ(time_.enabledTimerCount(), 0u);
}

TEST_F(SimulatedTimeSystemTest, EqualDeadlinesKeepArmingOrderAfterReEnable) {
  auto a = recorder("a");
  auto b = recorder("b");
  a->enable(milliseconds(10));
  b->enable(milliseconds(10));
  a->enable(milliseconds(10));  // same deadline, armed again: now after b
  time_.advanceTimeAndRun(milliseconds(10));
  EXPECT_THAT(fired_, ElementsAre("b@10", "a@10"));
}

TEST_F(SimulatedTimeSystemTest, DisabledTimerDoesNotFire) {
  auto timer = recorder("a");
  EXPECT_FALSE(timer->enabled());
  timer->disable();  // disarming a disarmed timer is harmless
  timer->enable(milliseconds(10));
  EXPECT_TRUE(timer->enabled());
  timer->disable();
  EXPECT_FALSE(timer->enabled());
  EXPECT_EQ(time_.enabledTimerCount(), 0u);
  time_.advanceTimeAndRun(milliseconds(100));
  EXPECT_TRUE(fired_.empty());
  // It can be armed again after being disarmed.
  timer->enable(milliseconds(1));
  time_.advanceTimeAndRun(milliseconds(1));
  EXPECT_THAT(fired_, ElementsAre("a@101"));
}

TEST_F(SimulatedTimeSystemTest, DestroyedTimerDoesNotFire) {
  auto timer = recorder("a");
  timer->enable(milliseconds(10));
  timer.reset();
  EXPECT_EQ(time_.enabledTimerCount(), 0u);
  time_.advanceTimeAndRun(milliseconds(100));
  EXPECT_TRUE(fired_.empty());
}

TEST_F(SimulatedTimeSystemTest, CallbackMayDestroyItsOwnTimer) {
  std::unique_ptr<Timer> timer;
  // The capture lives in the std::function; reading it after reset() checks the function
  // outlives the timer that owned it.
  std::string tag = "still here";
  std::string seen_after_reset;
  timer = dispatcher_.createTimer([&timer, &seen_after_reset, tag] {
    timer.reset();
    seen_after_reset = tag;
  });
  timer->enable(milliseconds(1));
  time_.advanceTimeAndRun(milliseconds(5));
  EXPECT_EQ(timer, nullptr);
  EXPECT_EQ(seen_after_reset, "still here");
}

TEST_F(SimulatedTimeSystemTest, CallbackMayDestroyOrDisableOtherDueTimers) {
  std::unique_ptr<Timer> doomed = recorder("doomed");
  std::unique_ptr<Timer> disabled = recorder("disabled");
  auto killer = dispatcher_.createTimer([&] {
    fired_.push_back("killer@" + std::to_string(elapsedMs()));
    doomed.reset();
    disabled->disable();
  });
  killer->enable(milliseconds(5));
  doomed->enable(milliseconds(5));  // same deadline, armed after killer
  disabled->enable(milliseconds(6));
  time_.advanceTimeAndRun(milliseconds(10));
  EXPECT_THAT(fired_, ElementsAre("killer@5"));
  EXPECT_FALSE(disabled->enabled());
}

TEST_F(SimulatedTimeSystemTest, CallbackMayReArmItself) {
  std::unique_ptr<Timer> ticker;
  ticker = dispatcher_.createTimer([&] {
    fired_.push_back("tick@" + std::to_string(elapsedMs()));
    if (fired_.size() < 3) ticker->enable(milliseconds(10));
    EXPECT_EQ(ticker->enabled(), fired_.size() < 3);
  });
  ticker->enable(milliseconds(10));
  time_.advanceTimeAndRun(milliseconds(100));
  EXPECT_THAT(fired_, ElementsAre("tick@10", "tick@20", "tick@30"));
  EXPECT_FALSE(ticker->enabled());
}

TEST_F(SimulatedTimeSystemTest, TimersCreatedInCallbacksFireWithinTheSameAdvance) {
  std::vector<std::unique_ptr<Timer>> created;
  auto parent = dispatcher_.createTimer([&] {
    fired_.push_back("parent@" + std::to_string(elapsedMs()));
    created.push_back(recorder("child"));
    created.back()->enable(milliseconds(5));
    created.push_back(recorder("now"));
    created.back()->enable(milliseconds(0));
    created.push_back(recorder("beyond"));
    created.back()->enable(milliseconds(50));
  });
  auto bystander = recorder("bystander");
  parent->enable(milliseconds(10));
  bystander->enable(milliseconds(12));
  time_.advanceTimeAndRun(milliseconds(20));
  EXPECT_THAT(fired_, ElementsAre("parent@10", "now@10", "bystander@12", "child@15"));
  EXPECT_TRUE(created.back()->enabled());
  time_.advanceTimeAndRun(milliseconds(40));
  EXPECT_EQ(fired_.back(), "beyond@60");
}

TEST_F(SimulatedTimeSystemTest, SetMonotonicTimeRunsDueTimers) {
  auto timer = recorder("a");
  timer->enable(milliseconds(250));
  time_.setMonotonicTime(start_ + milliseconds(300));
  EXPECT_THAT(fired_, ElementsAre("a@250"));
  EXPECT_EQ(elapsedMs(), 300);
  // Monotonic time never goes backwards.
  time_.setMonotonicTime(start_);
  EXPECT_EQ(elapsedMs(), 300);
}

TEST_F(SimulatedTimeSystemTest, SetSystemTimeMovesOnlyTheWallClock) {
  auto timer = recorder("a");
  timer->enable(milliseconds(1));
  const SystemTime later = time_.systemTime() + std::chrono::hours(24);
  time_.setSystemTime(later);
  EXPECT_EQ(time_.systemTime(), later);
  EXPECT_EQ(time_.monotonicTime(), start_);
  EXPECT_TRUE(fired_.empty());
  time_.advanceTimeAndRun(milliseconds(1));
  EXPECT_EQ(time_.systemTime(), later + milliseconds(1));
}

TEST_F(SimulatedTimeSystemTest, HugeTimeoutDoesNotOverflow) {
  auto never = recorder("never");
  never->enable(milliseconds::max());
  auto soon = recorder("soon");
  soon->enable(milliseconds(1));
  time_.advanceTimeAndRun(std::chrono::hours(24 * 365));
  EXPECT_THAT(fired_, ElementsAre("soon@1"));
  EXPECT_TRUE(never->enabled());
}

TEST_F(SimulatedTimeSystemTest, DoesNotNeedTheLoopToRun) {
  // The dispatcher's loop never runs in these tests; this one says so on purpose.
  bool fired = false;
  auto timer = dispatcher_.createTimer([&] { fired = true; });
  timer->enable(milliseconds(1));
  time_.advanceTimeAndRun(milliseconds(1));
  EXPECT_TRUE(fired);
}

TEST(SimulatedTimeSystemSharingTest, TwoDispatchersShareOneClockAndOneQueue) {
  SimulatedTimeSystem time;
  Dispatcher main_thread("main", time);
  Dispatcher worker("worker", time);
  EXPECT_EQ(&main_thread.timeSource(), &worker.timeSource());
  std::vector<std::string> fired;
  auto on_main = main_thread.createTimer([&] { fired.push_back("main"); });
  auto on_worker = worker.createTimer([&] {
    fired.push_back("worker");
    on_main->enable(milliseconds(1));  // a callback on one arms a timer on the other
  });
  on_main->enable(milliseconds(20));
  on_worker->enable(milliseconds(10));
  EXPECT_EQ(time.enabledTimerCount(), 2u);
  time.advanceTimeAndRun(milliseconds(15));
  EXPECT_THAT(fired, ElementsAre("worker", "main"));
  time.advanceTimeAndRun(milliseconds(15));
  EXPECT_THAT(fired, ElementsAre("worker", "main"));  // re-arming moved main's deadline to 11
}

TEST(SimulatedTimeSystemLifetimeTest, TimerMayOutliveTheTimeSystem) {
  auto time = std::make_unique<SimulatedTimeSystem>();
  auto timer = time->createTimer([] {});
  timer->enable(milliseconds(10));
  time.reset();
  EXPECT_FALSE(timer->enabled());
  timer.reset();  // must not reach back into the destroyed time system (checked under ASan)
}

}  // namespace
}  // namespace skiff::event
