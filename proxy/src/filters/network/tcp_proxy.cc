#include "filters/network/tcp_proxy.h"

#include "absl/time/clock.h"
#include "common/logging.h"
#include "upstream/original_dst_host.h"

namespace skiff::filters {

TcpProxySession::TcpProxySession(server::WorkerContext& worker,
                                 std::shared_ptr<const TcpProxyConfig> config,
                                 std::unique_ptr<net::Connection> downstream)
    : worker_(worker),
      config_(std::move(config)),
      downstream_(std::move(downstream)),
      start_(std::chrono::steady_clock::now()),
      start_time_(absl::Now()) {
  config_->stats->connections_total.inc();
  config_->stats->connections_active.add(1);
}

TcpProxySession::~TcpProxySession() {
  downstream_->setCallbacks(nullptr);
  if (upstream_) {
    upstream_->setCallbacks(nullptr);
    upstream_->close(net::Connection::CloseType::kNoFlush);
    cluster_->stats->connections_active.sub(1);
    if (host_) host_->active_requests.fetch_sub(1, std::memory_order_relaxed);
  }
  config_->stats->connections_active.sub(1);
}

void TcpProxySession::start() {
  downstream_->setCallbacks(&downstream_side_);
  // Nothing is read from the client until the upstream is there (a connection handed over by
  // protocol detection is already reading).
  downstream_->readDisable(true);
  if (downstream_->secure() && !downstream_->tlsHandshakeComplete()) {
    // No upstream connection for a caller that has not proven who it is (a failed handshake
    // must not reach the application). The handshake needs reads; plaintext that follows it
    // waits in the read buffer.
    awaiting_handshake_ = true;
    downstream_->readDisable(false);
    downstream_->startReading();
    armIdleTimer();
    return;
  }
  connectUpstream();
}

void TcpProxySession::Side::onTlsHandshakeDone() {
  TcpProxySession& s = session_;
  if (upstream_ || !s.awaiting_handshake_ || s.finished_) return;
  s.awaiting_handshake_ = false;
  s.downstream_->readDisable(true);
  s.connectUpstream();
}

void TcpProxySession::connectUpstream() {
  if (config_->authorization && !config_->authorization->allowConnection(*downstream_)) {
    finish("RBAC");
    return;
  }
  upstream::ThreadLocalCluster* cluster = worker_.clusters().get(config_->cluster);
  if (cluster != nullptr) {
    cluster_ = cluster->infoPtr();
    if (cluster_->config.type() == config::v1::Cluster::ORIGINAL_DST) {
      host_ = upstream::originalDestinationHost(*cluster_, *downstream_);
    } else {
      host_ = cluster->chooseHost(upstream::LbContext{});
      if (!host_) cluster_->stats->lb_no_host.inc();
    }
  }
  if (!host_) {
    finish("UH");
    return;
  }
  host_->active_requests.fetch_add(1, std::memory_order_relaxed);
  cluster_->stats->connections_total.inc();
  cluster_->stats->connections_active.add(1);
  upstream_ = net::Connection::connect(worker_.dispatcher(),
                                       reinterpret_cast<const sockaddr*>(&host_->sockaddr),
                                       cluster_->connect_timeout);
  if (cluster_->tls) upstream_->startClientTls(cluster_->tls->newTransport());
  upstream_->setCallbacks(&upstream_side_);
  // The client may speak first; its bytes wait in the kernel until the upstream is there.
  armIdleTimer();
}

void TcpProxySession::onConnected() {
  upstream_connected_ = true;
  downstream_->startReading();
  downstream_->readDisable(false);
  // Bytes read before the session began (protocol detection) go first.
  Buffer& early = downstream_->readBuffer();
  if (early.length() > 0) downstream_side_.onRead(early, false);
}

void TcpProxySession::armIdleTimer() {
  if (config_->idle_timeout.count() == 0) return;
  if (!idle_timer_) idle_timer_ = worker_.dispatcher().createTimer([this] { finish("SI"); });
  idle_timer_->enable(config_->idle_timeout);
}

void TcpProxySession::Side::onRead(Buffer& data, bool end_stream) {
  TcpProxySession& s = session_;
  if (s.finished_) return;
  // Client bytes before the upstream is connected stay buffered; onConnected sends them.
  if (!upstream_ && !s.upstream_connected_) return;
  size_t length = data.length();
  if (upstream_) {
    s.config_->stats->bytes_sent.inc(length);
    s.bytes_to_downstream_ += length;
  } else {
    s.config_->stats->bytes_received.inc(length);
    s.bytes_from_downstream_ += length;
  }
  s.armIdleTimer();
  s.peerOf(upstream_).write(data, end_stream);
  if (end_stream) {
    (upstream_ ? s.upstream_eof_ : s.downstream_eof_) = true;
  }
}

void TcpProxySession::Side::onEvent(net::ConnectionEvent event) {
  TcpProxySession& s = session_;
  switch (event) {
    case net::ConnectionEvent::kConnected:
      s.onConnected();
      return;
    case net::ConnectionEvent::kConnectFailed:
      s.cluster_->stats->connect_failures.inc();
      if (s.upstream_->connectTimedOut()) s.cluster_->stats->connect_timeouts.inc();
      s.finish("UF");
      return;
    case net::ConnectionEvent::kRemoteClose:
    case net::ConnectionEvent::kLocalClose: {
      // One side is gone for good: flush what the other side still has to receive, then end.
      bool both_eof = s.downstream_eof_ && s.upstream_eof_;
      s.finish(both_eof ? "" : (upstream_ ? "UC" : "DC"));
      return;
    }
  }
}

void TcpProxySession::Side::onAboveWriteBufferHighWatermark() {
  // This side cannot take more: stop reading from its peer.
  session_.peerOf(upstream_).readDisable(true);
}

void TcpProxySession::Side::onBelowWriteBufferLowWatermark() {
  session_.peerOf(upstream_).readDisable(false);
}

void TcpProxySession::finish(absl::string_view flags) {
  if (finished_) return;
  finished_ = true;
  flags_ = std::string(flags);
  idle_timer_.reset();
  downstream_->close(net::Connection::CloseType::kFlushWrite);
  if (upstream_) upstream_->close(net::Connection::CloseType::kFlushWrite);
  if (access_log::Logger* logger = worker_.accessLogger(config_->access_log)) {
    access_log::Entry entry;
    entry.start_time = start_time_;
    entry.protocol = "TCP";
    entry.bytes_received = bytes_from_downstream_;
    entry.bytes_sent = bytes_to_downstream_;
    entry.duration = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start_);
    entry.upstream_cluster = config_->cluster;
    if (host_) entry.upstream_host = host_->address;
    entry.flags = flags_;
    entry.downstream_remote = downstream_->remoteAddress().toString();
    logger->log(entry);
  }
  worker_.onDownstreamClosed(*this);
}

}  // namespace skiff::filters
