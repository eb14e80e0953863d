#pragma once

// TLS outcomes of one listener (side "downstream") or one cluster (side "upstream"): handshakes,
// and streams the peer ended without close_notify.
// Created on the main thread (the registry returns the same counters for the same labels);
// TlsTransports on the workers only increment them.

#include <string>

#include "stats/stats.h"

namespace skiff::tls {

struct TlsHandshakeStats {
  stats::Counter& succeeded;
  stats::Counter& failed;
  // Plaintext sent to a connection that required TLS (STRICT), or, on a cluster, connections
  // refused because the proxy had no identity yet.
  stats::Counter& plaintext_refused;
  stats::Counter& no_identity;
  stats::Counter& truncated;

  static TlsHandshakeStats create(stats::Registry& registry, const std::string& side,
                                  const std::string& name) {
    auto labels = [&](const char* result) -> stats::Labels {
      return {{"side", side}, {"name", name}, {"result", result}};
    };
    const char* help = "TLS handshakes by side (downstream, upstream), listener or cluster, result.";
    return TlsHandshakeStats{
        registry.counter("skiff_tls_handshakes_total", help, labels("success")),
        registry.counter("skiff_tls_handshakes_total", help, labels("failure")),
        registry.counter("skiff_tls_handshakes_total", help, labels("plaintext_refused")),
        registry.counter("skiff_tls_handshakes_total", help, labels("no_identity")),
        registry.counter("skiff_tls_truncated_total",
                         "TLS connections whose peer ended TCP without close_notify (ended as "
                         "an abort), by side and listener or cluster.",
                         {{"side", side}, {"name", name}}),
    };
  }
};

}  // namespace skiff::tls
