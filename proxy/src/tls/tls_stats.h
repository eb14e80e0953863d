#pragma once

// Handshake outcomes of one listener (side "downstream") or one cluster (side "upstream").
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
    };
  }
};

}  // namespace skiff::tls
