#pragma once

// One libuv loop and everything that runs on it. Every callback runs on the loop's thread;
// post() is the only call that is safe from other threads.

#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace skiff::event {

class Dispatcher;

// Something with output to push once the current loop iteration's callbacks are done, so that
// writes made by several callbacks (a response head, then its body) leave in one syscall.
class DeferredFlush {
 public:
  virtual ~DeferredFlush() = default;
  virtual void flushDeferred() = 0;
};

// A one-shot or re-armable timer. Destroying it cancels it; it may be destroyed from inside its
// own callback.
class Timer {
 public:
  Timer(Dispatcher& dispatcher, std::function<void()> callback);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void enable(std::chrono::milliseconds timeout);
  void disable();
  bool enabled() const;

 private:
  uv_timer_t* handle_;
  std::shared_ptr<std::function<void()>> callback_;
};

class Dispatcher {
 public:
  explicit Dispatcher(std::string name);
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

  std::unique_ptr<Timer> createTimer(std::function<void()> callback) {
    return std::make_unique<Timer>(*this, std::move(callback));
  }

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
