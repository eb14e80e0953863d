#include "mesh_watcher.h"

#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "gtest/gtest.h"
#include "test_mesh.h"

namespace skiff::control {
namespace {

class MeshWatcherTest : public ::testing::Test {
 protected:
  MeshWatcherTest() {
    dir_ = testing::makeTestDir("skiff-watch-");
  }
  ~MeshWatcherTest() override { std::filesystem::remove_all(dir_); }

  void onChange() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++reloads_;
    changed_.notify_all();
  }

  // Waits until `count` reloads happened or `wait` passed; returns the count.
  int waitForReloads(int count, std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, wait, [&] { return reloads_ >= count; });
    return reloads_;
  }

  std::filesystem::path dir_;
  std::mutex mutex_;
  std::condition_variable changed_;
  int reloads_ = 0;
};

TEST_F(MeshWatcherTest, ABurstOfWritesIsOneReload) {
  MeshWatcher watcher(dir_.string(), std::chrono::milliseconds(100), [this] { onChange(); });
  ASSERT_TRUE(watcher.start().ok());
  // An editor's save: temporary file, write, rename over the original; then a second file.
  for (int i = 0; i < 5; ++i) {
    std::ofstream(dir_ / "policy.yaml.tmp") << "traffic_policies: []  # " << i << "\n";
    std::filesystem::rename(dir_ / "policy.yaml.tmp", dir_ / "policy.yaml");
  }
  std::ofstream(dir_ / "services.yml") << "services: []\n";
  EXPECT_EQ(waitForReloads(1, std::chrono::seconds(5)), 1);
  // Nothing else is pending: no second reload follows.
  EXPECT_EQ(waitForReloads(2, std::chrono::milliseconds(300)), 1);

  // Files that are not mesh files do not reload.
  std::ofstream(dir_ / "notes.txt") << "x";
  std::ofstream(dir_ / ".policy.yaml.swp") << "x";
  EXPECT_EQ(waitForReloads(2, std::chrono::milliseconds(300)), 1);

  std::filesystem::remove(dir_ / "services.yml");
  EXPECT_EQ(waitForReloads(2, std::chrono::seconds(5)), 2);
  watcher.stop();
}

TEST_F(MeshWatcherTest, MissingDirectoryFailsToStart) {
  MeshWatcher watcher((dir_ / "missing").string(), std::chrono::milliseconds(1), [] {});
  EXPECT_FALSE(watcher.start().ok());
}

}  // namespace
}  // namespace skiff::control
