#pragma once

// A per-worker pool of HTTP/2 (h2c, prior knowledge) connections to one upstream host. Requests
// are streams multiplexed on as few connections as the server's SETTINGS_MAX_CONCURRENT_STREAMS
// allows; a connection that received GOAWAY takes no new streams and closes when its last one
// ends; idle connections close after the cluster's idle timeout.

#include <list>
#include <memory>

#include "event/dispatcher.h"
#include "http2/codec.h"
#include "upstream/cluster_info.h"
#include "upstream/upstream_request.h"

namespace skiff::upstream {

class Http2ConnectionPool : public ConnectionPool,
                            public std::enable_shared_from_this<Http2ConnectionPool> {
 public:
  class Connection;

  Http2ConnectionPool(event::Dispatcher& dispatcher, HostSharedPtr host,
                      ClusterInfoConstSharedPtr cluster);
  ~Http2ConnectionPool() override;

  // ConnectionPool
  Pending* newStream(PoolCallbacks& callbacks) override;
  void cancel(Pending* pending) override;
  void drain() override;

  const http2::Http2Settings& settings() const { return settings_; }

  // From connections.
  void onConnected(Connection& connection);
  void onConnectFailed(Connection& connection, PoolFailureReason reason);
  // A stream ended or the connection stopped taking streams: serve waiters, close idle ones.
  void onCapacityChanged(Connection& connection);
  void onClosed(Connection& connection);

 private:
  Connection* connectionWithCapacity();
  void attach(PoolCallbacks& callbacks, Connection& connection);
  void servePending();
  // Opens a connection when requests wait and none is being set up, if the cluster's
  // max_connections allows (a pool with no connection always may).
  void connectForPending();

  event::Dispatcher& dispatcher_;
  HostSharedPtr host_;
  ClusterInfoConstSharedPtr cluster_;
  http2::Http2Settings settings_;
  std::list<std::unique_ptr<Pending>> pending_;
  std::list<std::unique_ptr<Connection>> connections_;
  bool draining_ = false;
};

}  // namespace skiff::upstream
