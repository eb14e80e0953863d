#pragma once

// The timer contract. Dispatcher::createTimer returns a libuv timer, or a simulated one when the
// dispatcher runs on a SimulatedTimeSystem; callers cannot tell which.

#include <chrono>
#include <functional>

namespace skiff::event {

using TimerCallback = std::function<void()>;

// A one-shot, re-armable timer. Destroying it cancels it; it may be destroyed from inside its
// own callback, and its callback may arm, disarm or destroy any timer, itself included.
class Timer {
 public:
  virtual ~Timer() = default;

  // Arms the timer to fire once, `timeout` from now; arming an armed timer moves its deadline.
  virtual void enable(std::chrono::milliseconds timeout) = 0;
  virtual void disable() = 0;
  // Armed and not yet fired.
  virtual bool enabled() const = 0;
};

}  // namespace skiff::event
