#pragma once

// Time for unit tests: a clock that stands still until the test moves it, and timers that fire
// only then, so timeouts, idle timers and backoffs are tested without sleeping and without
// flakes. Give it to a Dispatcher (Dispatcher(name, time)) and the dispatcher's createTimer()
// and timeSource() use it.
//
// Single-threaded: the time system, every dispatcher built on it and every timer it made must
// be used from one thread (the test's). Several dispatchers may share one SimulatedTimeSystem;
// their timers then share one queue and one clock, and all fire on the thread that advances
// time, which is what a test of, say, a main thread and a worker wants. The time system must
// outlive the dispatchers built on it and every use of its timers, but destroying a timer after
// it is harmless (a fixture may keep timers in members declared before the time system).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <utility>

#include "event/time_source.h"
#include "event/timer.h"

namespace skiff::event {

class SimulatedTimeSystem : public TimeSource {
 public:
  // Fixed starting points, so runs are reproducible: monotonic time starts at an arbitrary
  // point well past the clock's epoch; system time at 2026-01-01T00:00:00Z.
  static MonotonicTime initialMonotonicTime();
  static SystemTime initialSystemTime();

  SimulatedTimeSystem();
  ~SimulatedTimeSystem() override;
  SimulatedTimeSystem(const SimulatedTimeSystem&) = delete;
  SimulatedTimeSystem& operator=(const SimulatedTimeSystem&) = delete;

  MonotonicTime monotonicTime() override { return monotonic_; }
  SystemTime systemTime() override { return system_; }

  // Moves both clocks forward by `delta` and fires every timer that comes due on the way, in
  // deadline order (arming order for equal deadlines). Each callback sees the clocks at its
  // own deadline; timers armed by callbacks fire too if they come due within `delta`. Ends
  // with the clocks exactly `delta` later. A negative delta counts as zero. Must not be called
  // from a timer callback.
  void advanceTimeAndRun(std::chrono::milliseconds delta);

  // advanceTimeAndRun() to an absolute monotonic time; a time in the past does not move the
  // clocks (monotonic time never goes backwards) but still fires timers already due.
  void setMonotonicTime(MonotonicTime time);

  // Sets the wall clock alone, fires nothing: wall clocks jump (NTP, an operator) while
  // monotonic time, which timers follow, does not.
  void setSystemTime(SystemTime time) { system_ = time; }

  // What Dispatcher::createTimer returns on simulated time. Needs no uv loop.
  std::unique_ptr<Timer> createTimer(TimerCallback callback);

  // Timers armed and not yet fired, across every dispatcher on this time system.
  size_t enabledTimerCount() const { return queue_.size(); }

 private:
  class SimulatedTimer;
  // Ordered by deadline, then by a sequence number taken at arming: FIFO among equal deadlines.
  using QueueKey = std::pair<MonotonicTime, uint64_t>;

  QueueKey arm(SimulatedTimer* timer, std::chrono::milliseconds timeout);
  void disarm(const QueueKey& key) { queue_.erase(key); }
  // Now plus `delta`, with negative deltas as zero and overflow saturating.
  MonotonicTime after(std::chrono::milliseconds delta) const;
  // Moves both clocks to `time`; never backwards.
  void moveTo(MonotonicTime time);

  MonotonicTime monotonic_;
  SystemTime system_;
  std::map<QueueKey, SimulatedTimer*> queue_;
  uint64_t next_sequence_ = 0;
  bool advancing_ = false;
};

}  // namespace skiff::event
