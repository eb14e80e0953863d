#include <chrono>

#include "event/dispatcher.h"
#include "gtest/gtest.h"

namespace skiff::event {
namespace {

// The real-time path: a Dispatcher built without a SimulatedTimeSystem keeps libuv timers and the
// process's clocks. Real waits here are a millisecond or two.

TEST(DispatcherRealTimeTest, UsesTheProcessClocks) {
  Dispatcher dispatcher("test");
  EXPECT_EQ(&dispatcher.timeSource(), &RealTimeSource::instance());
  // Named steps: the order in which a macro evaluates its arguments is unspecified.
  const MonotonicTime before = std::chrono::steady_clock::now();
  const MonotonicTime read = dispatcher.timeSource().monotonicTime();
  const MonotonicTime after = std::chrono::steady_clock::now();
  EXPECT_LE(before, read);
  EXPECT_LE(read, after);
}

TEST(DispatcherRealTimeTest, TimerFiresUnderRun) {
  Dispatcher dispatcher("test");
  TimeSource& time = dispatcher.timeSource();
  const MonotonicTime start = time.monotonicTime();
  MonotonicTime fired_at{};
  auto timer = dispatcher.createTimer([&] {
    fired_at = time.monotonicTime();
    dispatcher.exit();
  });
  EXPECT_FALSE(timer->enabled());
  timer->enable(std::chrono::milliseconds(1));
  EXPECT_TRUE(timer->enabled());
  dispatcher.run();
  EXPECT_FALSE(timer->enabled());
  EXPECT_GE(fired_at - start, std::chrono::milliseconds(1));
}

TEST(DispatcherRealTimeTest, ReEnableMovesTheDeadline) {
  Dispatcher dispatcher("test");
  int order = 0;
  int first_fired = 0;
  int second_fired = 0;
  auto first = dispatcher.createTimer([&] { first_fired = ++order; });
  auto second = dispatcher.createTimer([&] {
    second_fired = ++order;
    dispatcher.exit();
  });
  first->enable(std::chrono::milliseconds(1));
  second->enable(std::chrono::milliseconds(2));
  first->enable(std::chrono::milliseconds(50));  // now after second, which stops the loop
  dispatcher.run();
  EXPECT_EQ(second_fired, 1);
  EXPECT_EQ(first_fired, 0);
  EXPECT_TRUE(first->enabled());
}

TEST(DispatcherRealTimeTest, CallbackMayDestroyItsTimer) {
  Dispatcher dispatcher("test");
  std::unique_ptr<Timer> timer;
  int capture_check = 42;
  int seen = 0;
  timer = dispatcher.createTimer([&, capture_check] {
    timer.reset();
    seen = capture_check;  // the std::function outlives the timer that held it
    dispatcher.exit();
  });
  timer->enable(std::chrono::milliseconds(1));
  dispatcher.run();
  EXPECT_EQ(timer, nullptr);
  EXPECT_EQ(seen, 42);
}

}  // namespace
}  // namespace skiff::event
