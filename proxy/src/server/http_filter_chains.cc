#include "server/http_filter_chains.h"

#include "filters/authz/listener_authorization.h"
#include "filters/http/authorization.h"
#include "filters/http/client_identity.h"
#include "filters/http/local_rate_limit.h"
#include "filters/http/proxy_headers.h"
#include "filters/http/trace_context.h"
#include "router/router_filter.h"

namespace skiff::server {
namespace {

using filters::AuthorizationFilter;
using filters::ClientIdentityFilter;
using filters::LocalRateLimitFilter;
using filters::ProxyHeadersFilter;
using filters::TraceContextFilter;
using router::RouterFilter;

// trace_context comes right after proxy_headers in every chain: before any filter that may
// answer the request itself (authorization's 403, local_rate_limit's 429), so refused requests
// are in their trace too (trace_id and span_id in the access log; spans later), and before
// anything that would read the trace context. proxy_headers neither answers nor reads it, and
// stays first so x-request-id is the same whatever tracing does.

// Inbound sidecar: calls from other workloads, over mutual TLS, to the application beside us.
// Who the caller is decides what it may do, so identity comes before anything else reads the
// request.
http::FilterChainFactory inboundSidecar(const HttpFilterSettings& settings) {
  http::FilterChainFactory chain;
  chain.add("proxy_headers", ProxyHeadersFilter::factory());  // x-request-id, x-forwarded-*
  if (settings.tracing) {  // trace id, this hop's span id, sampling
    chain.add("trace_context", TraceContextFilter::factory(settings.tracing, settings.stats));
  }
  if (!settings.client_identity_header.empty()) {              // the verified caller, never a
    chain.add("client_identity",                               // header it chose
              ClientIdentityFilter::factory(settings.client_identity_header));
  }
  if (settings.authorization) {  // per request, before routing: 403 RBAC
    chain.add("authorization", AuthorizationFilter::factory(settings.authorization));
  }
  if (settings.rateLimited()) {  // the route's, then the listener's bucket: 429 RL. After
    chain.add("local_rate_limit",  // authorization: denied callers take no tokens
              LocalRateLimitFilter::factory(settings.rate_limit, *settings.stats));
  }
  chain.add("router", RouterFilter::factory());  // route, cluster, host, upstream request
  return chain;
}

// Outbound sidecar: calls from the application beside us to other services (which the
// router's clusters reach over mutual TLS).
http::FilterChainFactory outboundSidecar(const HttpFilterSettings& settings) {
  http::FilterChainFactory chain;
  chain.add("proxy_headers", ProxyHeadersFilter::factory());
  if (settings.tracing) {
    chain.add("trace_context", TraceContextFilter::factory(settings.tracing, settings.stats));
  }
  if (!settings.client_identity_header.empty()) {  // only if given `tls`, which is unusual
    chain.add("client_identity",
              ClientIdentityFilter::factory(settings.client_identity_header));
  }
  if (settings.authorization) {  // an egress policy, when one is configured
    chain.add("authorization", AuthorizationFilter::factory(settings.authorization));
  }
  if (settings.rateLimited()) {  // a limit on what the application may send
    chain.add("local_rate_limit",
              LocalRateLimitFilter::factory(settings.rate_limit, *settings.stats));
  }
  chain.add("router", RouterFilter::factory());
  return chain;
}

// A plain listener (a static config, a gateway): what its configuration asks for.
http::FilterChainFactory plainListener(const HttpFilterSettings& settings) {
  http::FilterChainFactory chain;
  chain.add("proxy_headers", ProxyHeadersFilter::factory());
  if (settings.tracing) {
    chain.add("trace_context", TraceContextFilter::factory(settings.tracing, settings.stats));
  }
  if (!settings.client_identity_header.empty()) {
    chain.add("client_identity",
              ClientIdentityFilter::factory(settings.client_identity_header));
  }
  if (settings.authorization) {
    chain.add("authorization", AuthorizationFilter::factory(settings.authorization));
  }
  if (settings.rateLimited()) {
    chain.add("local_rate_limit",
              LocalRateLimitFilter::factory(settings.rate_limit, *settings.stats));
  }
  chain.add("router", RouterFilter::factory());
  return chain;
}

}  // namespace

http::FilterChainFactory buildHttpFilterChain(config::v1::Listener::TrafficDirection direction,
                                              const HttpFilterSettings& settings) {
  switch (direction) {
    case config::v1::Listener::INBOUND:
      return inboundSidecar(settings);
    case config::v1::Listener::OUTBOUND:
      return outboundSidecar(settings);
    default:
      return plainListener(settings);
  }
}

}  // namespace skiff::server
