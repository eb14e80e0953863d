#pragma once

// L4 proxy: each downstream connection is piped to a host of one cluster, both ways, with
// half-close passed through and watermark backpressure in both directions.
//
// How a session ends (no byte may be lost on the way):
// - An end of stream read from one side is written to the other as a half-close, after every
//   byte queued toward it (net::Connection sends the FIN only once its write buffer is empty).
// - A connection closes itself once both of its directions have ended; the session ends once
//   both connections have closed, so bytes still queued toward a slow reader are delivered.
// - A connection that fails (reset, read or write error, TLS failure) resets the other side:
//   a clean FIN there would pass a truncated stream off as complete. Counted as a reset.
// - The idle timeout, re-armed whenever bytes move, bounds every wait, the final flush included.

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
  void onConnectionClosed(bool upstream);
  // Ends the session early: closes what is still open (flushing queued bytes, or resetting),
  // then completes once both connections are closed.
  void finish(absl::string_view flags, net::Connection::CloseType how);
  void completeIfClosed();
  void logAccess();
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
  event::MonotonicTime start_;
  absl::Time start_time_;
  uint64_t bytes_from_downstream_ = 0;
  uint64_t bytes_to_downstream_ = 0;
  bool downstream_closed_ = false;
  bool upstream_closed_ = false;
  // finish() was called: nothing more is forwarded.
  bool finishing_ = false;
  bool completed_ = false;
  // A TLS caller's identity is known only after the handshake: authorization waits for it.
  bool awaiting_handshake_ = false;
  bool upstream_connected_ = false;
  // The client half-closed before the upstream connection was up: forwarded once it is.
  bool downstream_eof_early_ = false;
  std::string flags_;
};

}  // namespace skiff::filters
