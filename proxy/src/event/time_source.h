#pragma once

// The clock the data path reads. Code asks its Dispatcher for a TimeSource instead of calling
// std::chrono's clocks, so a test can swap in SimulatedTimeSystem and drive timeouts without
// sleeping.

#include <chrono>

namespace skiff::event {

// For intervals and deadlines: never jumps.
using MonotonicTime = std::chrono::steady_clock::time_point;
// For what a human or a peer reads (log lines, certificate validity): may jump.
using SystemTime = std::chrono::system_clock::time_point;

class TimeSource {
 public:
  virtual ~TimeSource() = default;
  virtual MonotonicTime monotonicTime() = 0;
  virtual SystemTime systemTime() = 0;
};

// The process's real clocks. Stateless, so one instance serves every thread.
class RealTimeSource : public TimeSource {
 public:
  static RealTimeSource& instance() {
    static RealTimeSource source;
    return source;
  }

  MonotonicTime monotonicTime() override { return std::chrono::steady_clock::now(); }
  SystemTime systemTime() override { return std::chrono::system_clock::now(); }
};

}  // namespace skiff::event
