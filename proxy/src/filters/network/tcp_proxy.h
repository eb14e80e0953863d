#pragma once

// L4 proxy: each downstream connection is piped to a host of one cluster, both ways, with
// half-close passed through and watermark backpressure in both directions.

#include <chrono>
#include <memory>
#include <string>

#include "access_log/access_log.h"
#include "absl/time/time.h"
#include "filters/authz/listener_authorization.h"
#include "http/listener_stats.h"
#include "net/connection.h"
#include "server/worker_context.h"

namespace skiff::filters {

struct TcpProxyConfig {
  std::string listener_name;
  std::string cluster;
  std::chrono::milliseconds idle_timeout{3600 * 1000};
  std::shared_ptr<access_log::Sink> access_log;
  http::ListenerStats* stats = nullptr;
  // The listener's `authorization`, checked once the caller is known (after the TLS handshake
  // of a TLS connection) and before any upstream connection is made. Null: all allowed.
  std::shared_ptr<const authz::ListenerAuthorization> authorization;
};

class TcpProxySession : public server::DownstreamConnection {
 public:
  TcpProxySession(server::WorkerContext& worker, std::shared_ptr<const TcpProxyConfig> config,
                  std::unique_ptr<net::Connection> downstream);
  ~TcpProxySession() override;
  void start();
  void drain() override {}  // L4 sessions run until either side closes (or the drain timeout)

 private:
  // One direction's callbacks; `from` reads feed `to` writes.
  class Side : public net::ConnectionCallbacks {
   public:
    Side(TcpProxySession& session, bool upstream) : session_(session), upstream_(upstream) {}
    void onRead(Buffer& data, bool end_stream) override;
    void onEvent(net::ConnectionEvent event) override;
    void onAboveWriteBufferHighWatermark() override;
    void onBelowWriteBufferLowWatermark() override;
    void onTlsHandshakeDone() override;

   private:
    TcpProxySession& session_;
    bool upstream_;
  };

  net::Connection& peerOf(bool upstream) { return upstream ? *downstream_ : *upstream_; }
  // Authorizes the caller, then picks a host and connects to it.
  void connectUpstream();
  void onConnected();
  void finish(absl::string_view flags);
  void armIdleTimer();

  server::WorkerContext& worker_;
  std::shared_ptr<const TcpProxyConfig> config_;
  std::unique_ptr<net::Connection> downstream_;
  std::unique_ptr<net::Connection> upstream_;
  upstream::ClusterInfoConstSharedPtr cluster_;
  upstream::HostSharedPtr host_;
  Side downstream_side_{*this, false};
  Side upstream_side_{*this, true};
  std::unique_ptr<event::Timer> idle_timer_;
  std::chrono::steady_clock::time_point start_;
  absl::Time start_time_;
  uint64_t bytes_from_downstream_ = 0;
  uint64_t bytes_to_downstream_ = 0;
  bool downstream_eof_ = false;
  bool upstream_eof_ = false;
  bool finished_ = false;
  // A TLS caller's identity is known only after the handshake: authorization waits for it.
  bool awaiting_handshake_ = false;
  bool upstream_connected_ = false;
  std::string flags_;
};

}  // namespace skiff::filters
