#pragma once

// The HTTP filter chain of each kind of listener, in one place: read http_filter_chains.cc
// top to bottom to see every step a request takes in each direction.

#include <memory>
#include <string>

#include "http/filter_chain.h"
#include "skiff/config/v1/listener.pb.h"

namespace skiff::filters::authz {
class ListenerAuthorization;
}
namespace skiff::http {
struct ListenerStats;
}
namespace skiff::router {
class LocalRateLimit;
}
namespace skiff::tracing {
struct TracingConfig;
}

namespace skiff::server {

// What the chains are built from, compiled from the listener's configuration.
struct HttpFilterSettings {
  // Listeners with `tls`: the header that carries the verified caller's identity. Empty: none.
  std::string client_identity_header;
  // The listener's `authorization` (null: everything is allowed).
  std::shared_ptr<const filters::authz::ListenerAuthorization> authorization;
  // Local rate limiting: the listener's own limit (null: none), and whether its routes may
  // have limits of their own (an inline route table with one, or routes from the discovery
  // stream, which may bring one with any update). Counted in `stats`.
  std::shared_ptr<const router::LocalRateLimit> rate_limit;
  bool route_rate_limits = false;
  http::ListenerStats* stats = nullptr;
  // The listener's `http.tracing` (null: trace headers pass through untouched).
  std::shared_ptr<const tracing::TracingConfig> tracing;

  bool rateLimited() const { return stats != nullptr && (rate_limit || route_rate_limits); }
};

http::FilterChainFactory buildHttpFilterChain(config::v1::Listener::TrafficDirection direction,
                                              const HttpFilterSettings& settings);

}  // namespace skiff::server
