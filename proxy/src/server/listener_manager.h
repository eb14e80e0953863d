#pragma once

// The main thread's listeners: compiles them (ListenerSettings), binds one SO_REUSEPORT socket
// per worker, and turns a new set of dynamic listeners into per-worker changes: add (bind,
// then start accepting), update at the same address (keep the sockets, new settings, drain
// the old connections), remove (close, drain), a changed address being remove plus add. A
// listener whose RDS route configuration has not arrived is warming: not bound until it does
// (an already active version keeps serving meanwhile).

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "http/listener_stats.h"
#include "net/address.h"
#include "net/listener.h"
#include "server/listener_settings.h"
#include "server/worker.h"
#include "skiff/config/v1/listener.pb.h"
#include "stats/stats.h"

namespace skiff::server {

class ListenerManager {
 public:
  // What /listeners shows.
  struct ListenerState {
    std::string name;
    net::SocketAddress address;  // as bound: a configured port 0 shows the real port
    bool dynamic = false;
  };

  // The work a dynamic update needs, prepared (settings built, sockets bound) but not yet
  // visible. Dropping an uncommitted plan closes the sockets it bound.
  class DynamicPlan {
   private:
    friend class ListenerManager;
    enum class Kind { kRemove, kUpdate, kAdd };  // applied in this order
    struct Change {
      Kind kind;
      std::string name;
      config::v1::Listener config;
      ListenerSettingsConstSharedPtr settings;
      std::vector<net::ListenSocket> sockets;  // kAdd: one per worker
    };
    std::vector<Change> changes;
    std::set<std::string> warming;
  };

  using HasRoutes = std::function<bool(const std::string& route_config_name)>;

  ListenerManager(stats::Registry& registry, int workers);

  // Binds the bootstrap's listeners; the result, per worker, goes to Worker::start.
  absl::StatusOr<std::vector<std::vector<WorkerListener>>> bindStatic(
      const google::protobuf::RepeatedPtrField<config::v1::Listener>& listeners);

  // Errors name the listener ("listener outbound: address in use"); nothing is changed.
  absl::StatusOr<DynamicPlan> prepareDynamic(
      const std::map<std::string, config::v1::Listener>& listeners,
      const HasRoutes& has_routes);
  // Posts the changes to every worker (after the routes and clusters they need).
  void commitDynamic(DynamicPlan plan, const std::vector<Worker*>& workers);

  std::vector<ListenerState> listeners() const;
  const std::set<std::string>& warming() const { return warming_; }
  bool isStatic(const std::string& name) const;

 private:
  struct Active {
    config::v1::Listener config;
    ListenerSettingsConstSharedPtr settings;
    net::SocketAddress bound;
    bool dynamic = false;
  };

  absl::StatusOr<ListenerSettingsConstSharedPtr> build(const config::v1::Listener& listener);
  absl::StatusOr<std::vector<net::ListenSocket>> bind(const config::v1::Listener& listener);
  // One stats object per listener name for the life of the process.
  http::ListenerStats* statsFor(const std::string& name);

  stats::Registry& registry_;
  int workers_;
  AccessLogSinks sinks_{&registry_};
  std::map<std::string, Active> active_;
  std::vector<std::string> static_order_;  // bootstrap order, for /listeners
  std::set<std::string> warming_;
  std::map<std::string, std::unique_ptr<http::ListenerStats>> stats_;
};

}  // namespace skiff::server
