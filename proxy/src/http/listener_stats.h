#pragma once

// The metrics of one listener (downstream side).

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

  static ListenerStats create(stats::Registry& registry, const std::string& listener) {
    stats::Labels labels = {{"listener", listener}};
    return ListenerStats{
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
    };
  }
};

}  // namespace skiff::http
