#pragma once

// One HTTP/1.1 connection to an upstream host: the socket and its response decoder. It is
// owned by its pool while connecting or idle, and by one upstream request while in use; events
// go to whoever owns it now.

#include <memory>

#include "http1/codec.h"
#include "net/connection.h"
#include "upstream/cluster_info.h"

namespace skiff::upstream {

class Http1UpstreamConnection;

class Http1ConnectionOwner {
 public:
  virtual ~Http1ConnectionOwner() = default;
  virtual void onConnected(Http1UpstreamConnection& connection) {}
  virtual void onResponseHead(http::ResponseHead&& head, bool end_stream) = 0;
  virtual void onResponseData(Buffer& data, bool end_stream) = 0;
  virtual void onResponseTrailers(http::HeaderMap&& trailers) = 0;
  // The connection closed or failed; `protocol_error` when the response was malformed.
  // `connect_failed`: it never connected. The connection is unusable afterwards.
  virtual void onConnectionLost(Http1UpstreamConnection& connection, bool connect_failed,
                                bool protocol_error) = 0;
  virtual void onAboveWriteBufferHighWatermark() {}
  virtual void onBelowWriteBufferLowWatermark() {}
};

class Http1UpstreamConnection : public net::ConnectionCallbacks, public http1::ResponseDecoderCallbacks {
 public:
  // `hold`: the connection's unit of the cluster's max_connections, released with it.
  Http1UpstreamConnection(std::unique_ptr<net::Connection> connection, HostSharedPtr host,
                          ClusterStats& stats, std::unique_ptr<ResourceHold> hold);
  ~Http1UpstreamConnection() override;

  void setOwner(Http1ConnectionOwner* owner) { owner_ = owner; }
  net::Connection& connection() { return *connection_; }
  const HostSharedPtr& host() const { return host_; }
  http1::ResponseDecoder& decoder() { return decoder_; }
  // Scratch space for encoding requests; keeps its storage from one request to the next.
  Buffer& encodeBuffer() { return encode_buffer_; }
  bool connected() const { return connected_; }
  bool lost() const { return lost_; }
  uint32_t requestsSent() const { return requests_sent_; }
  void countRequest() { ++requests_sent_; }
  // After a 101 response: bytes from the upstream are passed through raw, as body data.
  void enterTunnel() { tunnel_ = true; }
  bool tunnel() const { return tunnel_; }
  // Idle in its pool: any byte from the upstream now is a protocol violation.
  void setIdle(bool idle) { idle_ = idle; }

  // net::ConnectionCallbacks
  void onRead(Buffer& data, bool end_stream) override;
  void onEvent(net::ConnectionEvent event) override;
  void onAboveWriteBufferHighWatermark() override;
  void onBelowWriteBufferLowWatermark() override;

  // http1::ResponseDecoderCallbacks
  void onResponseHead(http::ResponseHead&& head, bool end_stream) override;
  void onResponseData(Buffer& data, bool end_stream) override;
  void onResponseTrailers(http::HeaderMap&& trailers) override;

 private:
  void lose(bool protocol_error);

  std::unique_ptr<net::Connection> connection_;
  HostSharedPtr host_;
  // The cluster's stats live as long as the process; the ClusterInfo may not outlive a
  // deferred delete of this connection (a cluster update drops its pools).
  ClusterStats& stats_;
  std::unique_ptr<ResourceHold> hold_;
  http1::ResponseDecoder decoder_;
  Buffer encode_buffer_;
  Http1ConnectionOwner* owner_ = nullptr;
  bool connected_ = false;
  bool lost_ = false;
  bool tunnel_ = false;
  bool idle_ = false;
  uint32_t requests_sent_ = 0;
};

}  // namespace skiff::upstream
