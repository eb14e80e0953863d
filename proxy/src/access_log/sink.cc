// The access-log sink's writer thread: workers queue batches of whole lines under a short lock;
// this thread alone makes the (possibly blocking) write() calls.

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "access_log/access_log.h"
#include "common/logging.h"

namespace skiff::access_log {

struct Sink::State {
  State(std::string path, int fd) : path(std::move(path)), fd(fd) {}
  ~State() {
    if (fd >= 0) ::close(fd);
  }

  // Writes one batch completely; false (with the reason logged once) when the descriptor
  // fails. A non-blocking descriptor (a stdout libuv shares) is waited for with poll().
  bool writeAll(const std::string& lines);
  void run();

  const std::string path;
  const int fd;
  std::mutex mu;
  std::condition_variable wake;  // the writer: a batch arrived, or stop
  std::condition_variable idle;  // drain() and the destructor: progress
  std::deque<std::string> queue;  // guarded by mu
  size_t queued_bytes = 0;        // guarded by mu; counts a batch until it is written
  uint64_t queued_batches = 0;    // guarded by mu
  uint64_t finished_batches = 0;  // guarded by mu: written or given up
  bool stopping = false;          // guarded by mu
  bool exited = false;            // guarded by mu
  bool failing = false;           // writer thread only: a failure is logged once per run
  // Lines the writer gave up on (failed writes), not yet added to the `dropped` counter.
  std::atomic<uint64_t> failed_lines{0};
  std::atomic<uint64_t> dropped_lines{0};  // every line given up, for droppedLines()
};

namespace {

uint64_t lineCount(const std::string& lines) {
  return static_cast<uint64_t>(std::count(lines.begin(), lines.end(), '\n'));
}

}  // namespace

bool Sink::State::writeAll(const std::string& lines) {
  const char* data = lines.data();
  size_t left = lines.size();
  while (left > 0) {
    ssize_t n = ::write(fd, data, left);
    if (n > 0) {
      data += n;
      left -= static_cast<size_t>(n);
      continue;
    }
    int error = n < 0 ? errno : EIO;  // a zero-byte write would otherwise loop forever
    if (error == EINTR) continue;
    if (error == EAGAIN || error == EWOULDBLOCK) {
      struct pollfd pfd = {fd, POLLOUT, 0};
      if (::poll(&pfd, 1, -1) >= 0 || errno == EINTR) continue;
      error = errno;
    }
    if (!failing) {
      SKIFF_LOG(kWarn,
                "access log %s: write failed: %s; dropping lines (logged once until writes "
                "succeed again; counted in skiff_access_log_dropped_total)",
                path, std::strerror(error));
    }
    failing = true;
    return false;
  }
  failing = false;
  return true;
}

void Sink::State::run() {
  std::unique_lock<std::mutex> lock(mu);
  while (true) {
    wake.wait(lock, [this] { return stopping || !queue.empty(); });
    if (queue.empty()) break;  // stopping, and everything is written
    std::deque<std::string> batches;
    batches.swap(queue);
    lock.unlock();
    size_t bytes = 0;
    for (const std::string& batch : batches) {
      bytes += batch.size();
      if (!writeAll(batch)) {
        uint64_t lines = lineCount(batch);
        failed_lines.fetch_add(lines, std::memory_order_relaxed);
        dropped_lines.fetch_add(lines, std::memory_order_relaxed);
      }
    }
    lock.lock();
    queued_bytes -= bytes;
    finished_batches += batches.size();
    idle.notify_all();
  }
  exited = true;
  idle.notify_all();
}

absl::StatusOr<std::shared_ptr<Sink>> Sink::open(const std::string& path,
                                                 stats::Counter* dropped) {
  int fd;
  if (path == "/dev/stdout" || path == "/dev/stderr") {
    // open() of /dev/stdout fails with ENXIO when the descriptor is a socket (systemd, some
    // container runtimes); duplicating it works for every kind of descriptor.
    fd = ::fcntl(path == "/dev/stdout" ? STDOUT_FILENO : STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
  } else {
    do {
      fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    } while (fd < 0 && errno == EINTR);
  }
  if (fd < 0) {
    int error = errno;
    return absl::ErrnoToStatus(error,
                               absl::StrCat("access log ", path, ": ", std::strerror(error)));
  }
  return std::shared_ptr<Sink>(new Sink(std::make_shared<State>(path, fd), dropped));
}

Sink::Sink(std::shared_ptr<State> state, stats::Counter* dropped)
    : state_(std::move(state)), dropped_(dropped) {
  writer_ = std::thread([state = state_] { state->run(); });
}

Sink::~Sink() {
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->stopping = true;
  state_->wake.notify_one();
  bool exited = state_->idle.wait_for(lock, kCloseWait, [this] { return state_->exited; });
  lock.unlock();
  if (exited) {
    writer_.join();
  } else {
    // Stuck on a reader that does not read: the thread keeps the state (and the descriptor)
    // alive and ends if the write ever returns.
    SKIFF_LOG(kWarn, "access log %s: %d bytes still unwritten at close; left behind",
              state_->path, state_->queued_bytes);
    writer_.detach();
  }
}

bool Sink::writeLines(std::string lines) {
  if (uint64_t failed = state_->failed_lines.exchange(0, std::memory_order_relaxed)) {
    countDropped(failed);
  }
  if (lines.empty()) return true;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->queued_bytes + lines.size() <= kMaxQueuedBytes) {
      state_->queued_bytes += lines.size();
      ++state_->queued_batches;
      state_->queue.push_back(std::move(lines));
      state_->wake.notify_one();
      return true;
    }
  }
  uint64_t count = lineCount(lines);
  state_->dropped_lines.fetch_add(count, std::memory_order_relaxed);
  countDropped(count);
  return false;
}

void Sink::countDropped(uint64_t lines) {
  if (dropped_ != nullptr) dropped_->inc(lines);
}

bool Sink::drain(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(state_->mu);
  uint64_t target = state_->queued_batches;
  return state_->idle.wait_for(lock, timeout,
                               [&] { return state_->finished_batches >= target; });
}

uint64_t Sink::droppedLines() const {
  return state_->dropped_lines.load(std::memory_order_relaxed);
}

const std::string& Sink::path() const { return state_->path; }

}  // namespace skiff::access_log
