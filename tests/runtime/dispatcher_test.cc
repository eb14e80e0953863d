#include "event/dispatcher.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"

namespace skiff::event {
namespace {

TEST(DispatcherTest, PostFromAnotherThreadRunsOnTheLoopThread) {
  Dispatcher dispatcher("test");
  std::thread::id loop_thread;
  std::thread::id ran_on;
  std::atomic<int> runs{0};
  std::thread poster([&] {
    for (int i = 0; i < 100; ++i) {
      dispatcher.post([&] {
        ran_on = std::this_thread::get_id();
        if (++runs == 100) dispatcher.exit();
      });
    }
  });
  dispatcher.post([&] { loop_thread = std::this_thread::get_id(); });
  dispatcher.run();
  poster.join();
  EXPECT_EQ(runs.load(), 100);
  EXPECT_EQ(ran_on, loop_thread);
  EXPECT_EQ(loop_thread, std::this_thread::get_id());
}

TEST(DispatcherTest, TimerMayDestroyItselfFromItsCallback) {
  Dispatcher dispatcher("test");
  std::unique_ptr<Timer> timer;
  bool fired = false;
  timer = dispatcher.createTimer([&] {
    fired = true;
    timer.reset();
    dispatcher.exit();
  });
  timer->enable(std::chrono::milliseconds(0));
  dispatcher.run();
  EXPECT_TRUE(fired);
  EXPECT_EQ(timer, nullptr);
}

TEST(DispatcherTest, DisabledTimerDoesNotFire) {
  Dispatcher dispatcher("test");
  bool fired = false;
  auto timer = dispatcher.createTimer([&] { fired = true; });
  timer->enable(std::chrono::milliseconds(1));
  timer->disable();
  EXPECT_FALSE(timer->enabled());
  auto stop = dispatcher.createTimer([&] { dispatcher.exit(); });
  stop->enable(std::chrono::milliseconds(5));
  dispatcher.run();
  EXPECT_FALSE(fired);
}

struct Tracked {
  explicit Tracked(bool* destroyed) : destroyed(destroyed) {}
  ~Tracked() { *destroyed = true; }
  bool* destroyed;
};

TEST(DispatcherTest, DeferredDeleteWaitsForALaterLoopTurn) {
  Dispatcher dispatcher("test");
  bool destroyed = false;
  bool destroyed_during_callback = true;
  dispatcher.post([&] {
    dispatcher.deferredDelete(std::make_unique<Tracked>(&destroyed));
    destroyed_during_callback = destroyed;
    dispatcher.post([&] { dispatcher.exit(); });
  });
  dispatcher.run();
  EXPECT_FALSE(destroyed_during_callback);
  EXPECT_TRUE(destroyed);
}

}  // namespace
}  // namespace skiff::event
