#pragma once

// A listener's and a cluster's TLS settings, compiled on the main thread from their `tls`
// fields and shared read-only by the workers. The SSL contexts themselves are the proxy's (one
// identity per proxy, see TlsContext); these say how a connection uses them.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "skiff/config/v1/listener.pb.h"
#include "skiff/config/v1/tls.pb.h"
#include "stats/stats.h"
#include "tls/tls_stats.h"
#include "tls/tls_transport.h"

namespace skiff::tls {

class DownstreamTlsSettings {
 public:
  // ALPN defaults follow the listener's handler: h2 and http/1.1 for an HTTP listener (only
  // the one its codec_type forces, if any), none for TCP.
  DownstreamTlsSettings(const config::v1::Listener& listener, stats::Registry& registry);

  // The mode for a connection to `port` (its original destination, else the listener's port).
  config::v1::MtlsMode modeFor(uint16_t port) const;
  // A server transport over the thread's current context; null (counted) without an identity.
  std::unique_ptr<TlsTransport> newTransport() const;
  TlsHandshakeStats& stats() const { return stats_; }

 private:
  config::v1::MtlsMode mode_;
  absl::flat_hash_map<uint32_t, config::v1::MtlsMode> port_modes_;
  std::string alpn_wire_;
  mutable TlsHandshakeStats stats_;
};

class UpstreamTlsSettings {
 public:
  // `http2`: the cluster speaks HTTP/2 (ALPN defaults to h2, else http/1.1); `tcp`-only users
  // (tcp_proxy) offer the same list, which a TCP listener simply does not answer.
  UpstreamTlsSettings(const config::v1::UpstreamTlsContext& config, bool http2,
                      stats::Registry& registry, const std::string& cluster);

  // A client transport over the thread's current context; null (counted) without an identity.
  std::unique_ptr<TlsTransport> newTransport() const;
  const ClientOptions& options() const { return options_; }

 private:
  ClientOptions options_;
  mutable TlsHandshakeStats stats_;
};

}  // namespace skiff::tls
