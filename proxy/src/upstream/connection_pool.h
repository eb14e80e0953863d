#pragma once

// A per-worker pool of HTTP/1.1 connections to one upstream host: reuses idle keep-alive
// connections, opens new ones on demand, closes idle ones after the cluster's idle timeout.

#include <list>
#include <memory>
#include <vector>

#include "event/dispatcher.h"
#include "upstream/cluster_info.h"
#include "upstream/upstream_connection.h"

namespace skiff::upstream {

class PoolCallbacks {
 public:
  virtual ~PoolCallbacks() = default;
  // `reused`: the connection served earlier requests.
  virtual void onPoolReady(std::unique_ptr<UpstreamConnection> connection, bool reused) = 0;
  virtual void onPoolFailure(bool timed_out) = 0;
};

class ConnectionPool : public UpstreamConnectionOwner {
 public:
  class PendingRequest;

  ConnectionPool(event::Dispatcher& dispatcher, HostSharedPtr host, ClusterInfoConstSharedPtr cluster);
  ~ConnectionPool() override;

  // With an idle connection at hand, calls onPoolReady before returning and returns nullptr.
  // Otherwise opens a connection and returns a handle that cancel() accepts until a callback.
  PendingRequest* newStream(PoolCallbacks& callbacks);
  void cancel(PendingRequest* request);
  // Takes back a connection whose last exchange completed cleanly.
  void release(std::unique_ptr<UpstreamConnection> connection);
  // Closes idle connections and refuses future releases (the host left the cluster).
  void drain();
  bool hasPendingWork() const { return !pending_.empty() || !connecting_.empty(); }
  const HostSharedPtr& host() const { return host_; }

  // UpstreamConnectionOwner: events of connections that are connecting or idle.
  void onConnected(UpstreamConnection& connection) override;
  void onConnectionLost(UpstreamConnection& connection, bool connect_failed,
                        bool protocol_error) override;
  void onResponseHead(http::ResponseHead&&, bool) override {}
  void onResponseData(Buffer&, bool) override {}
  void onResponseTrailers(http::HeaderMap&&) override {}

 private:
  struct IdleConnection {
    std::unique_ptr<UpstreamConnection> connection;
    std::unique_ptr<event::Timer> idle_timer;
  };
  std::unique_ptr<UpstreamConnection> takeConnecting(UpstreamConnection& connection);
  void closeIdle(UpstreamConnection* connection);

  event::Dispatcher& dispatcher_;
  HostSharedPtr host_;
  ClusterInfoConstSharedPtr cluster_;
  std::list<std::unique_ptr<PendingRequest>> pending_;
  std::vector<std::unique_ptr<UpstreamConnection>> connecting_;
  std::list<IdleConnection> idle_;  // most recently used at the back
  bool draining_ = false;
};

}  // namespace skiff::upstream
