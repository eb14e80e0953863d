#pragma once

// The proxy's discovery client: one aggregated (ADS) gRPC stream to skiff-control, delta first
// with state of the world as the fallback, wildcard subscriptions to the four resource types.
// Each response is validated resource by resource, merged into the current snapshot and
// handed to the server on the main thread; the server's answer decides ACK or NACK. While the
// control plane is away the proxy keeps its last good snapshot and reconnects with
// exponential backoff and jitter.
//
// Threading: gRPC runs on the client's own thread; the apply callback and the initial-config
// callback run on the main thread (through `post`).

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "skiff/config/v1/bootstrap.pb.h"
#include "stats/stats.h"
#include "xds/dynamic_snapshot.h"

namespace skiff::xds {

// What unset DynamicResources durations stand for.
inline constexpr absl::Duration kDefaultReconnectBaseInterval = absl::Milliseconds(250);
inline constexpr absl::Duration kDefaultReconnectMaxInterval = absl::Seconds(5);
inline constexpr absl::Duration kDefaultInitialFetchTimeout = absl::Seconds(15);

struct XdsClientOptions {
  config::v1::Node node;
  config::v1::DynamicResources config;
  // Names the static resources already use; a dynamic resource may not reuse one (NACK).
  std::set<std::string> static_listener_names;
  std::set<std::string> static_cluster_names;
};

class XdsClient {
 public:
  // Runs a task on the main thread (Dispatcher::post); must be callable from any thread.
  using PostToMain = std::function<void(std::function<void()>)>;
  // Main thread. Applies a complete snapshot; an error NACKs the response that produced it
  // (its message is the NACK's error text) and the previous snapshot stays in force.
  using ApplyCallback = std::function<absl::Status(const DynamicSnapshot&)>;

  XdsClient(XdsClientOptions options, PostToMain post, ApplyCallback apply,
            stats::Registry& registry);
  // Main thread. Cancels the stream and joins the thread promptly: a pending apply that the
  // main loop will never run (it may have stopped already) is abandoned, not waited for.
  ~XdsClient();

  // Starts the stream thread. `on_initial_config` runs once on the main thread, when every
  // resource type has been received and applied at least once.
  void start(std::function<void()> on_initial_config);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff::xds
