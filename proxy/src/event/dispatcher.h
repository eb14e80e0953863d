#pragma once

// One libuv loop and everything that runs on it. Every callback runs on the loop's thread;
// post() is the only call that is safe from other threads. The dispatcher also owns the choice
// of time: real clocks and libuv timers, or a test's SimulatedTimeSystem, so code that reads
// the time and arms timers through its dispatcher runs unchanged under simulated time.

#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "event/time_source.h"
#include "event/timer.h"

namespace skiff::event {

class SimulatedTimeSystem;

// Something with output to push once the current loop iteration's callbacks are done, so that
// writes made by several callbacks (a response head, then its body) leave in one syscall.
class DeferredFlush {
 public:
  virtual ~DeferredFlush() = default;
  virtual void flushDeferred() = 0;
};

class Dispatcher {
 public:
  // Real time: the process's clocks, timers on the libuv loop.
  explicit Dispatcher(std::string name);
  // Simulated time (tests): timers fire only when `time` is advanced, whether or not the loop
  // runs; post(), flushes and deferred deletes still need the loop. `time` must outlive the
  // dispatcher; see simulated_time_system.h for its threading rules.
  Dispatcher(std::string name, SimulatedTimeSystem& time);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  uv_loop_t* loop() { return &loop_; }
  const std::string& name() const { return name_; }

  // Runs until exit() is called (from the loop's thread, or through post()).
  void run();
  void exit();

  // Thread-safe: runs `work` on this loop's thread soon. Calls coalesce into one wake-up.
  void post(std::function<void()> work);

  // A disarmed timer that runs `callback` on this loop's thread (or, on simulated time, on the
  // thread advancing the time).
  std::unique_ptr<Timer> createTimer(TimerCallback callback);

  // Where code on this dispatcher reads the time; simulated when the dispatcher is.
  TimeSource& timeSource() { return *time_source_; }

  // Runs target->flushDeferred() once, after the I/O callbacks of this loop iteration.
  void scheduleFlush(DeferredFlush* target);
  // A target that dies before its flush must cancel it.
  void cancelFlush(DeferredFlush* target);

  // Destroys `object` on a later turn of the loop, so an object can end its own life from
  // inside one of its callbacks.
  template <class T>
  void deferredDelete(std::unique_ptr<T> object) {
    if (!object) return;
    // A raw pointer and its deleter: no allocation per deferred object.
    deferred_.push_back({object.release(), [](void* p) { delete static_cast<T*>(p); }});
    scheduleDeferredDelete();
  }

  // Whether the caller runs on this dispatcher's thread.
  bool isThreadSafe() const;

 private:
  void runPosted();
  void runFlushes();
  void scheduleDeferredDelete();
  void clearDeferred();

  std::string name_;
  TimeSource* time_source_;
  // Null on real time. Only two time systems exist, so a pointer says which one without an
  // interface whose sole other implementation would be this class's own libuv timers.
  SimulatedTimeSystem* simulated_time_ = nullptr;
  uv_loop_t loop_;
  uv_async_t wakeup_;
  uv_idle_t deferred_idle_;
  uv_check_t flush_check_;
  std::vector<DeferredFlush*> flush_queue_;
  std::vector<DeferredFlush*> flush_running_;
  bool flush_check_active_ = false;
  std::mutex post_mutex_;
  std::vector<std::function<void()>> posted_;
  struct Deferred {
    void* object;
    void (*destroy)(void*);
  };
  std::vector<Deferred> deferred_;
  bool deferred_scheduled_ = false;
  uv_thread_t thread_id_{};
  bool running_ = false;
};

}  // namespace skiff::event
