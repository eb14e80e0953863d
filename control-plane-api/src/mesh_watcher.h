#pragma once

// Watches the mesh directory with inotify and calls back once per burst of changes: the
// callback runs `debounce` after the last event of a burst (an editor's write-rename-chmod is
// one reload). Runs its own thread; the callback runs on it.

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "absl/status/status.h"

namespace skiff::control {

class MeshWatcher {
 public:
  MeshWatcher(std::string dir, std::chrono::milliseconds debounce, std::function<void()> on_change);
  ~MeshWatcher();  // stops

  absl::Status start();
  void stop();

 private:
  void run();
  // Drains the inotify queue; true when an event concerns a mesh file (or the directory).
  bool readEvents();

  const std::string dir_;
  const std::chrono::milliseconds debounce_;
  const std::function<void()> on_change_;
  int inotify_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace skiff::control
