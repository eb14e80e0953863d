#pragma once

// A per-worker pool of HTTP/1.1 connections to one upstream host: one request per connection at
// a time; idle keep-alive connections are reused (most recently used first), new ones opened on
// demand, idle ones closed after the cluster's idle timeout.

#include <list>
#include <memory>
#include <vector>

#include "event/dispatcher.h"
#include "upstream/cluster_info.h"
#include "upstream/http1_upstream_connection.h"
#include "upstream/upstream_request.h"

namespace skiff::upstream {

class Http1ConnectionPool : public ConnectionPool,
                            public Http1ConnectionOwner,
                            public std::enable_shared_from_this<Http1ConnectionPool> {
 public:
  Http1ConnectionPool(event::Dispatcher& dispatcher, HostSharedPtr host,
                      ClusterInfoConstSharedPtr cluster);
  ~Http1ConnectionPool() override;

  // ConnectionPool
  Pending* newStream(PoolCallbacks& callbacks) override;
  void cancel(Pending* pending) override;
  void drain() override;

  // Takes back a connection whose last exchange completed cleanly.
  void release(std::unique_ptr<Http1UpstreamConnection> connection);

  // Http1ConnectionOwner: events of connections that are connecting or idle.
  void onConnected(Http1UpstreamConnection& connection) override;
  void onConnectionLost(Http1UpstreamConnection& connection, bool connect_failed,
                        bool protocol_error) override;
  void onResponseHead(http::ResponseHead&&, bool) override {}
  void onResponseData(Buffer&, bool) override {}
  void onResponseTrailers(http::HeaderMap&&) override {}

 private:
  struct IdleConnection {
    std::unique_ptr<Http1UpstreamConnection> connection;
    std::unique_ptr<event::Timer> idle_timer;
  };
  void hand(PoolCallbacks& callbacks, std::unique_ptr<Http1UpstreamConnection> connection,
            bool reused);
  std::unique_ptr<Http1UpstreamConnection> takeConnecting(Http1UpstreamConnection& connection);
  void closeIdle(Http1UpstreamConnection* connection);
  // Opens a connection for a waiting request that has none coming, if the cluster's
  // max_connections allows.
  void connectForPending();
  // A connection of this pool (connecting, idle or busy) is gone.
  void onConnectionDestroyed();

  event::Dispatcher& dispatcher_;
  HostSharedPtr host_;
  ClusterInfoConstSharedPtr cluster_;
  std::list<std::unique_ptr<Pending>> pending_;
  std::vector<std::unique_ptr<Http1UpstreamConnection>> connecting_;
  std::list<IdleConnection> idle_;  // most recently used at the back
  bool draining_ = false;
  uint32_t open_connections_ = 0;  // this pool's connections alive, in whatever state
};

}  // namespace skiff::upstream
