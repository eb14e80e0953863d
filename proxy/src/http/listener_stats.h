#pragma once

// The metrics of one listener (downstream side).

#include <array>
#include <string>

#include "stats/stats.h"

namespace skiff::http {

struct ListenerStats {
  stats::Counter& connections_total;
  stats::Gauge& connections_active;
  stats::CodeCounter& requests_total;
  stats::Gauge& requests_active;
  stats::Histogram& request_duration;
  stats::Counter& bytes_received;
  stats::Counter& bytes_sent;
  stats::Counter& protocol_errors;
  // Authorization decisions (listeners with `authorization`): per request (HTTP) or per
  // connection (TCP).
  stats::Counter& authz_allowed;
  stats::Counter& authz_denied;
  // TCP proxying: sessions ended by a reset (or read/write/TLS error) on one side, which is
  // then passed on to the other side as a reset.
  stats::Counter& tcp_resets_downstream;
  stats::Counter& tcp_resets_upstream;
  // Requests by protocol: HTTP/1.0, HTTP/1.1, HTTP/2 (http::Protocol order).
  std::array<stats::Counter*, 3> requests_by_protocol{};
  // gRPC responses by grpc-status, 0 to 16 (the codes gRPC defines).
  std::array<stats::Counter*, 17> grpc_responses{};
  // Local rate limits (filters/http/local_rate_limit.h), by the limit's scope (RateLimitScope):
  // requests refused (429 RL), and requests a shadow limit would have refused.
  enum RateLimitScope : size_t { kListenerLimit = 0, kRouteLimit = 1 };
  std::array<stats::Counter*, 2> rate_limited{};
  std::array<stats::Counter*, 2> rate_limit_shadow{};
  // Listeners with `tracing` (filters/http/trace_context.h): requests whose trace headers of a
  // format were malformed (ignored: the request went on, in a new trace), by format.
  enum TraceFormat : size_t { kW3cTraceFormat = 0, kB3TraceFormat = 1 };
  std::array<stats::Counter*, 2> tracing_malformed{};

  static ListenerStats create(stats::Registry& registry, const std::string& listener) {
    stats::Labels labels = {{"listener", listener}};
    ListenerStats stats{
        registry.counter("skiff_downstream_connections_total", "Downstream connections accepted.",
                         labels),
        registry.gauge("skiff_downstream_connections_active", "Open downstream connections.",
                       labels),
        registry.codeCounter("skiff_downstream_requests_total",
                             "Downstream requests answered, by status code.", labels),
        registry.gauge("skiff_downstream_requests_active", "Downstream requests in flight.",
                       labels),
        registry.histogram("skiff_downstream_request_duration_seconds",
                           "Downstream request duration, first byte in to last byte out.", labels),
        registry.counter("skiff_downstream_bytes_received_total",
                         "Bytes received from downstream.", labels),
        registry.counter("skiff_downstream_bytes_sent_total", "Bytes sent to downstream.", labels),
        registry.counter("skiff_downstream_protocol_errors_total",
                         "Downstream requests rejected as malformed.", labels),
        registry.counter("skiff_authz_allowed_total",
                         "Requests (HTTP) or connections (TCP) the authorization policy allowed.",
                         labels),
        registry.counter("skiff_authz_denied_total",
                         "Requests (HTTP, answered 403) or connections (TCP, closed) the "
                         "authorization policy denied.",
                         labels),
        registry.counter("skiff_tcp_resets_total",
                         "TCP proxy sessions ended by a reset or error, by the side it came from "
                         "(then passed on to the other side as a reset).",
                         {{"listener", listener}, {"origin", "downstream"}}),
        registry.counter("skiff_tcp_resets_total",
                         "TCP proxy sessions ended by a reset or error, by the side it came from "
                         "(then passed on to the other side as a reset).",
                         {{"listener", listener}, {"origin", "upstream"}}),
    };
    const char* protocols[] = {"HTTP/1.0", "HTTP/1.1", "HTTP/2"};
    for (size_t i = 0; i < stats.requests_by_protocol.size(); ++i) {
      stats.requests_by_protocol[i] = &registry.counter(
          "skiff_downstream_requests_by_protocol_total", "Downstream requests, by protocol.",
          {{"listener", listener}, {"protocol", protocols[i]}});
    }
    for (size_t code = 0; code < stats.grpc_responses.size(); ++code) {
      stats.grpc_responses[code] = &registry.counter(
          "skiff_downstream_grpc_responses_total", "gRPC responses, by grpc-status.",
          {{"listener", listener}, {"grpc_status", std::to_string(code)}});
    }
    const char* scopes[] = {"listener", "route"};
    for (size_t i = 0; i < stats.rate_limited.size(); ++i) {
      const stats::Labels scoped = {{"listener", listener}, {"scope", scopes[i]}};
      stats.rate_limited[i] = &registry.counter(
          "skiff_rate_limited_total",
          "Requests a local rate limit refused (429, flag RL), by the limit's scope.", scoped);
      stats.rate_limit_shadow[i] = &registry.counter(
          "skiff_rate_limit_shadow_total",
          "Requests a shadow local rate limit would have refused (let through), by scope.",
          scoped);
    }
    const char* formats[] = {"w3c", "b3"};
    for (size_t i = 0; i < stats.tracing_malformed.size(); ++i) {
      stats.tracing_malformed[i] = &registry.counter(
          "skiff_tracing_malformed_headers_total",
          "Requests whose trace context headers were malformed and ignored (the request went "
          "on in a new trace), by format.",
          {{"listener", listener}, {"format", formats[i]}});
    }
    return stats;
  }
};

}  // namespace skiff::http
