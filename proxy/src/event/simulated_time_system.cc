#include "event/simulated_time_system.h"

#include <algorithm>
#include <cassert>

namespace skiff::event {

class SimulatedTimeSystem::SimulatedTimer : public Timer {
 public:
  SimulatedTimer(SimulatedTimeSystem& time, TimerCallback callback)
      : time_(time), callback_(std::make_shared<TimerCallback>(std::move(callback))) {}
  ~SimulatedTimer() override { disable(); }

  void enable(std::chrono::milliseconds timeout) override {
    disable();
    key_ = time_.arm(this, timeout);
    armed_ = true;
  }

  void disable() override {
    if (!armed_) return;
    armed_ = false;
    time_.disarm(key_);
  }

  bool enabled() const override { return armed_; }

  // Called with the timer already out of the queue.
  void fire() {
    armed_ = false;
    auto callback = callback_;  // survives the timer's destruction by its callback
    (*callback)();
  }

  // The time system is going away first; forget the queue entry it is about to drop.
  void orphan() { armed_ = false; }

 private:
  SimulatedTimeSystem& time_;
  std::shared_ptr<TimerCallback> callback_;
  QueueKey key_;
  bool armed_ = false;
};

MonotonicTime SimulatedTimeSystem::initialMonotonicTime() {
  // Far from zero, so code that subtracts durations from "now" stays above the epoch.
  return MonotonicTime(std::chrono::hours(24 * 365));
}

SystemTime SimulatedTimeSystem::initialSystemTime() {
  return SystemTime(std::chrono::seconds(1767225600));  // 2026-01-01T00:00:00Z
}

SimulatedTimeSystem::SimulatedTimeSystem()
    : monotonic_(initialMonotonicTime()), system_(initialSystemTime()) {}

SimulatedTimeSystem::~SimulatedTimeSystem() {
  // Timers that outlive the time system (a test fixture that declares it last) must not reach
  // back into it when they are destroyed.
  for (auto& [key, timer] : queue_) timer->orphan();
}

std::unique_ptr<Timer> SimulatedTimeSystem::createTimer(TimerCallback callback) {
  return std::make_unique<SimulatedTimer>(*this, std::move(callback));
}

SimulatedTimeSystem::QueueKey SimulatedTimeSystem::arm(SimulatedTimer* timer,
                                                       std::chrono::milliseconds timeout) {
  QueueKey key{after(timeout), next_sequence_++};
  queue_.emplace(key, timer);
  return key;
}

void SimulatedTimeSystem::advanceTimeAndRun(std::chrono::milliseconds delta) {
  setMonotonicTime(after(delta));
}

MonotonicTime SimulatedTimeSystem::after(std::chrono::milliseconds delta) const {
  // Compare in milliseconds: converting a huge timeout to the clock's nanoseconds would
  // overflow, and "never" is a timeout some callers mean.
  const auto headroom =
      std::chrono::duration_cast<std::chrono::milliseconds>(MonotonicTime::max() - monotonic_);
  if (delta >= headroom) return MonotonicTime::max();
  return monotonic_ + std::max(delta, std::chrono::milliseconds(0));
}

void SimulatedTimeSystem::setMonotonicTime(MonotonicTime time) {
  // A callback that advances time would fire timers out of order under its caller.
  assert(!advancing_);
  advancing_ = true;
  const MonotonicTime end = std::max(time, monotonic_);
  // Re-read the queue's head every round: a callback may have armed, moved or destroyed any
  // timer, including ones due before `end`.
  while (!queue_.empty() && queue_.begin()->first.first <= end) {
    auto head = queue_.begin();
    SimulatedTimer* timer = head->second;
    moveTo(head->first.first);
    queue_.erase(head);
    timer->fire();
  }
  moveTo(end);
  advancing_ = false;
}

void SimulatedTimeSystem::moveTo(MonotonicTime time) {
  if (time <= monotonic_) return;
  const auto step = std::chrono::duration_cast<SystemTime::duration>(time - monotonic_);
  // Saturate rather than overflow when a test runs time out to a "never" deadline.
  system_ = step >= SystemTime::max() - system_ ? SystemTime::max() : system_ + step;
  monotonic_ = time;
}

}  // namespace skiff::event
