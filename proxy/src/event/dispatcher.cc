#include "event/dispatcher.h"

#include "common/logging.h"
#include "event/simulated_time_system.h"

namespace skiff::event {

namespace {

// A timer on the loop. The uv handle is freed by its close callback, after the timer is gone,
// because libuv may still hold it for the rest of the loop iteration.
class LibuvTimer : public Timer {
 public:
  LibuvTimer(uv_loop_t* loop, TimerCallback callback)
      : handle_(new uv_timer_t), callback_(std::make_shared<TimerCallback>(std::move(callback))) {
    uv_timer_init(loop, handle_);
    handle_->data = this;
  }

  ~LibuvTimer() override {
    uv_timer_stop(handle_);
    handle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(handle_),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
  }

  void enable(std::chrono::milliseconds timeout) override {
    uv_timer_start(
        handle_,
        [](uv_timer_t* handle) {
          auto* self = static_cast<LibuvTimer*>(handle->data);
          if (self == nullptr) return;
          auto callback = self->callback_;  // survives the timer's destruction by its callback
          (*callback)();
        },
        static_cast<uint64_t>(timeout.count()), 0);
  }

  void disable() override { uv_timer_stop(handle_); }

  bool enabled() const override {
    return uv_is_active(reinterpret_cast<const uv_handle_t*>(handle_)) != 0;
  }

 private:
  uv_timer_t* handle_;
  std::shared_ptr<TimerCallback> callback_;
};

}  // namespace

Dispatcher::Dispatcher(std::string name)
    : name_(std::move(name)), time_source_(&RealTimeSource::instance()) {
  uv_loop_init(&loop_);
  uv_async_init(&loop_, &wakeup_, [](uv_async_t* handle) {
    static_cast<Dispatcher*>(handle->data)->runPosted();
  });
  wakeup_.data = this;
  uv_idle_init(&loop_, &deferred_idle_);
  deferred_idle_.data = this;
  uv_check_init(&loop_, &flush_check_);
  flush_check_.data = this;
}

Dispatcher::Dispatcher(std::string name, SimulatedTimeSystem& time) : Dispatcher(std::move(name)) {
  time_source_ = &time;
  simulated_time_ = &time;
}

std::unique_ptr<Timer> Dispatcher::createTimer(TimerCallback callback) {
  if (simulated_time_ != nullptr) return simulated_time_->createTimer(std::move(callback));
  return std::make_unique<LibuvTimer>(&loop_, std::move(callback));
}

Dispatcher::~Dispatcher() {
  clearDeferred();
  uv_close(reinterpret_cast<uv_handle_t*>(&wakeup_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&deferred_idle_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&flush_check_), nullptr);
  // Let every pending close callback run so handles free their memory.
  while (uv_loop_close(&loop_) == UV_EBUSY) {
    uv_walk(
        &loop_,
        [](uv_handle_t* handle, void*) {
          if (!uv_is_closing(handle)) uv_close(handle, nullptr);
        },
        nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
  }
}

void Dispatcher::run() {
  thread_id_ = uv_thread_self();
  running_ = true;
  uv_run(&loop_, UV_RUN_DEFAULT);
  running_ = false;
  runPosted();
  clearDeferred();
}

void Dispatcher::exit() { uv_stop(&loop_); }

void Dispatcher::post(std::function<void()> work) {
  {
    std::lock_guard<std::mutex> lock(post_mutex_);
    posted_.push_back(std::move(work));
  }
  uv_async_send(&wakeup_);
}

void Dispatcher::runPosted() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(post_mutex_);
    batch.swap(posted_);
  }
  for (auto& work : batch) work();
}

void Dispatcher::scheduleFlush(DeferredFlush* target) {
  flush_queue_.push_back(target);
  if (flush_check_active_) return;
  flush_check_active_ = true;
  uv_check_start(&flush_check_, [](uv_check_t* handle) {
    static_cast<Dispatcher*>(handle->data)->runFlushes();
  });
  // Keep the loop from blocking in poll while a flush is due.
  uv_idle_start(&deferred_idle_, [](uv_idle_t* handle) {
    auto* self = static_cast<Dispatcher*>(handle->data);
    uv_idle_stop(handle);
    self->deferred_scheduled_ = false;
    self->clearDeferred();
  });
}

void Dispatcher::cancelFlush(DeferredFlush* target) {
  for (auto& queued : flush_queue_) {
    if (queued == target) queued = nullptr;
  }
  for (auto& queued : flush_running_) {
    if (queued == target) queued = nullptr;
  }
}

void Dispatcher::runFlushes() {
  // Flushing can schedule more flushes (a write that completes a response may start another).
  while (!flush_queue_.empty()) {
    flush_running_.swap(flush_queue_);
    for (size_t i = 0; i < flush_running_.size(); ++i) {
      if (flush_running_[i] != nullptr) flush_running_[i]->flushDeferred();
    }
    flush_running_.clear();
  }
  uv_check_stop(&flush_check_);
  flush_check_active_ = false;
}

void Dispatcher::scheduleDeferredDelete() {
  if (deferred_scheduled_) return;
  deferred_scheduled_ = true;
  uv_idle_start(&deferred_idle_, [](uv_idle_t* handle) {
    auto* self = static_cast<Dispatcher*>(handle->data);
    uv_idle_stop(handle);
    self->deferred_scheduled_ = false;
    self->clearDeferred();
  });
}

void Dispatcher::clearDeferred() {
  // Destructors may defer more objects; keep going until none are left.
  while (!deferred_.empty()) {
    std::vector<Deferred> doomed;
    doomed.swap(deferred_);
    for (const Deferred& d : doomed) d.destroy(d.object);
    // Keep the larger vector's storage for the next round.
    if (deferred_.empty() && doomed.capacity() > deferred_.capacity()) {
      doomed.clear();
      deferred_.swap(doomed);
    }
  }
}

bool Dispatcher::isThreadSafe() const {
  uv_thread_t self = uv_thread_self();
  return !running_ || uv_thread_equal(&self, &thread_id_);
}

}  // namespace skiff::event
