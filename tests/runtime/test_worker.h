#pragma once

// A worker for unit tests of what runs on one (streams, routers): its dispatcher (usually on
// simulated time), a seeded random source, and clusters whose pools the test may supply.

#include <memory>
#include <string>

#include "common/random.h"
#include "event/dispatcher.h"
#include "server/worker_context.h"
#include "upstream/thread_local_clusters.h"

namespace skiff::testing {

class TestWorker : public server::WorkerContext {
 public:
  explicit TestWorker(event::Dispatcher& dispatcher,
                      upstream::PoolFactory pools = upstream::createConnectionPool)
      : dispatcher_(dispatcher), clusters_(dispatcher, random_, std::move(pools)) {}
  event::Dispatcher& dispatcher() override { return dispatcher_; }
  Random& random() override { return random_; }
  upstream::ThreadLocalClusters& clusters() override { return clusters_; }
  std::shared_ptr<const router::RouteTable> routeTable(const std::string&) override {
    return nullptr;
  }
  access_log::Logger* accessLogger(const std::shared_ptr<access_log::Sink>&) override {
    return nullptr;
  }
  bool draining() const override { return false; }
  void onDownstreamClosed(server::DownstreamConnection&) override {}

 private:
  event::Dispatcher& dispatcher_;
  FastRandom random_{42};
  upstream::ThreadLocalClusters clusters_;
};

}  // namespace skiff::testing
