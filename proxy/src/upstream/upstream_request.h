#pragma once

// The router's view of the upstream side, whatever protocol the cluster speaks: a pool hands
// out an UpstreamRequest (one exchange on some pooled connection: a whole HTTP/1.1 connection,
// or one stream of a multiplexed HTTP/2 connection), and the request reports the response back.

#include <memory>

#include "absl/strings/string_view.h"
#include "common/buffer.h"
#include "http/header_map.h"
#include "upstream/circuit_breakers.h"
#include "upstream/host.h"

namespace skiff::net {
class Connection;
}

namespace skiff::upstream {

enum class UpstreamResetReason {
  // The connection closed or broke before the response completed.
  kConnectionTermination,
  // The response could not be parsed.
  kProtocolError,
  // The upstream provably did not process the request (HTTP/2 REFUSED_STREAM or a stream above a
  // GOAWAY's last stream id; an HTTP/1.1 keep-alive connection that closed before any response
  // byte): one retry on another connection is safe if the request can be sent again.
  kRefused,
};

class UpstreamRequestCallbacks {
 public:
  virtual ~UpstreamRequestCallbacks() = default;
  virtual void onResponseHead(http::ResponseHead&& head, bool end_stream) = 0;
  // The callee may move bytes out of `data`.
  virtual void onResponseData(Buffer& data, bool end_stream) = 0;
  virtual void onResponseTrailers(http::HeaderMap&& trailers) = 0;
  // The exchange failed; the request object is dead (destroy it, do not call it again).
  virtual void onReset(UpstreamResetReason reason) = 0;
  // The request body cannot be sent as fast as it comes: pause the downstream, then resume.
  virtual void onAboveWriteBufferHighWatermark() = 0;
  virtual void onBelowWriteBufferLowWatermark() = 0;
};

class UpstreamRequest {
 public:
  // Destroying a request that is not complete abandons it (its connection is closed, or its
  // stream reset).
  virtual ~UpstreamRequest() = default;
  virtual void setCallbacks(UpstreamRequestCallbacks* callbacks) = 0;
  // `upgrade`: HTTP/1.1 only; after a 101 the rest of the exchange is a raw tunnel both ways.
  virtual void encodeHead(const http::RequestHead& head, bool end_stream) = 0;
  virtual void encodeData(Buffer& data, bool end_stream) = 0;
  virtual void encodeTrailers(const http::HeaderMap& trailers) = 0;
  // Response backpressure: stop (true) or resume reading the response.
  virtual void readDisable(bool disable) = 0;
  // The whole exchange is over; the connection goes back to its pool if it can be reused.
  virtual void complete() = 0;
  virtual bool aboveWriteBufferHighWatermark() const = 0;
};

// Why a pool could not give a request a connection.
enum class PoolFailureReason {
  kConnectFailure,  // refused, unreachable, or closed before it was up
  kTimeout,         // the cluster's connect_timeout passed
  kTlsFailure,      // the TLS handshake failed, or the proxy had no identity to present
  kOverflow,        // a resource limit of the cluster refused it (circuit breakers)
};
absl::string_view poolFailureReasonName(PoolFailureReason reason);

class PoolCallbacks {
 public:
  virtual ~PoolCallbacks() = default;
  // `reused`: the request runs on a connection that served earlier requests.
  virtual void onPoolReady(std::unique_ptr<UpstreamRequest> request, bool reused) = 0;
  virtual void onPoolFailure(PoolFailureReason reason) = 0;
};

// A per-worker pool of connections to one host.
class ConnectionPool {
 public:
  // How a failed connect attempt reads to the requests that waited for it.
  static PoolFailureReason failureReason(const net::Connection& connection);

  // A request waiting for a connection.
  // A request waiting for a connection, holding one unit of the cluster's
  // max_pending_requests while it waits.
  class Pending {
   public:
    // The unit is taken here; null (after onPoolFailure(kOverflow)) when none is left.
    static std::unique_ptr<Pending> admit(PoolCallbacks& callbacks,
                                          ResourceLimit& pending_requests);
    Pending(PoolCallbacks& callbacks, ResourceLimit& pending_requests)
        : callbacks(callbacks), hold_(pending_requests) {}
    PoolCallbacks& callbacks;

   private:
    ResourceHold hold_;  // a unit already taken
  };
  virtual ~ConnectionPool() = default;
  // Calls onPoolReady before returning (and returns nullptr) when a connection is at hand, or
  // onPoolFailure(kOverflow) when the cluster's max_pending_requests is reached; otherwise
  // returns a handle that cancel() accepts until a callback has run.
  virtual Pending* newStream(PoolCallbacks& callbacks) = 0;
  virtual void cancel(Pending* pending) = 0;
  // The host left the cluster: close idle connections, take none back.
  virtual void drain() = 0;
};

}  // namespace skiff::upstream
