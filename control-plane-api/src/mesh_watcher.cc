#include "mesh_watcher.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "mesh_loader.h"

namespace skiff::control {

MeshWatcher::MeshWatcher(std::string dir, std::chrono::milliseconds debounce,
                         std::function<void()> on_change)
    : dir_(std::move(dir)), debounce_(debounce), on_change_(std::move(on_change)) {}

MeshWatcher::~MeshWatcher() { stop(); }

absl::Status MeshWatcher::start() {
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) return absl::InternalError(absl::StrCat("inotify: ", strerror(errno)));
  const uint32_t mask = IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                        IN_DELETE_SELF | IN_MOVE_SELF;
  if (inotify_add_watch(inotify_fd_, dir_.c_str(), mask) < 0) {
    return absl::InvalidArgumentError(absl::StrCat(dir_, ": cannot watch: ", strerror(errno)));
  }
  if (pipe2(stop_pipe_, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  thread_ = std::thread([this] { run(); });
  return absl::OkStatus();
}

void MeshWatcher::stop() {
  if (thread_.joinable()) {
    char byte = 0;
    (void)!write(stop_pipe_[1], &byte, 1);
    thread_.join();
  }
  for (int* fd : {&inotify_fd_, &stop_pipe_[0], &stop_pipe_[1]}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

bool MeshWatcher::readEvents() {
  alignas(inotify_event) char buffer[8192];
  bool relevant = false;
  while (true) {
    ssize_t length = read(inotify_fd_, buffer, sizeof(buffer));
    if (length <= 0) break;
    for (char* at = buffer; at < buffer + length;) {
      const auto* event = reinterpret_cast<const inotify_event*>(at);
      const std::string name = event->len > 0 ? std::string(event->name) : "";
      // Kubernetes ConfigMap volumes swap a "..data" link instead of writing the files.
      if (name.empty() || isMeshFileName(name) || name == "..data") relevant = true;
      at += sizeof(inotify_event) + event->len;
    }
  }
  return relevant;
}

void MeshWatcher::run() {
  using Clock = std::chrono::steady_clock;
  bool pending = false;
  Clock::time_point due;
  while (true) {
    int timeout_ms = -1;
    if (pending) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now());
      timeout_ms = static_cast<int>(std::max<int64_t>(0, left.count()));
    }
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    int ready = poll(fds, 2, timeout_ms);
    if (ready < 0 && errno != EINTR) {
      SKIFF_LOG(kError, "mesh watcher: poll: %s", strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if (ready > 0 && (fds[0].revents & POLLIN) && readEvents()) {
      pending = true;
      due = Clock::now() + debounce_;
      continue;
    }
    if (pending && Clock::now() >= due) {
      pending = false;
      on_change_();
    }
  }
}

}  // namespace skiff::control
