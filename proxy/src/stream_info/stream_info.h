#pragma once

// StreamInfo: the one record of a request (or a TCP session) that filters write as it goes and
// the access log, stats and tracing read at the end, instead of each keeping its own copy.
// Plain data: it lives in the stream and dies with it.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tracing/trace_context.h"

namespace skiff {

struct StreamInfo {
  // When the stream began: wall clock for the log's timestamp, monotonic for durations.
  absl::Time start_time;
  std::chrono::steady_clock::time_point start;
  // Moments after `start`, set as they happen.
  std::optional<std::chrono::microseconds> request_complete;   // last request byte received
  std::optional<std::chrono::microseconds> upstream_request_sent;  // head sent to the upstream
  std::optional<std::chrono::microseconds> response_started;   // response head sent downstream
  std::chrono::microseconds duration{0};                       // set when the stream ends

  // The request as it arrived (the log shows what the client sent, not what filters made of it).
  std::string protocol;  // "HTTP/1.1", "HTTP/2", "TCP"
  std::string method;
  std::string authority;
  std::string path;
  std::string request_id;
  bool grpc = false;

  // Where it went. The route name points into the route table, which the stream keeps.
  absl::string_view route_name;
  std::string upstream_cluster;
  std::string upstream_host;
  uint32_t attempt_count = 0;  // upstream requests made (retries and hedges included)

  // How it ended.
  int status = 0;        // 0 for TCP, or when no response was sent
  int grpc_status = -1;  // the response's grpc-status; -1 when it had none
  // Why the proxy answered or ended the stream itself (Envoy's vocabulary: "UF", "NR", "RBAC");
  // several are joined with ','. Empty: none.
  std::string response_flags;
  uint64_t bytes_received = 0;  // request body bytes from downstream
  uint64_t bytes_sent = 0;      // response body bytes to downstream

  // Who asked. Both views point into the downstream connection, which outlives its streams.
  absl::string_view downstream_remote;     // "address:port"
  absl::string_view downstream_remote_ip;  // the address alone (x-forwarded-for)
  absl::string_view downstream_peer_identity;  // the verified SPIFFE id; empty for plaintext

  // This hop's place in its trace (filters/http/trace_context.h), for the access log and,
  // later, spans: the trace id, this hop's own span id (the parent-id it sent upstream), the
  // caller's span id (0 when this hop started the trace) and whether the trace is sampled.
  // span_id == 0: no trace context (tracing is off for the listener, or a TCP session).
  struct Trace {
    tracing::TraceId trace_id;
    tracing::SpanId span_id = 0;
    tracing::SpanId parent_span_id = 0;
    bool sampled = false;
    bool active() const { return span_id != 0; }
  };
  Trace trace;

  void addResponseFlag(absl::string_view flag) {
    if (flag.empty()) return;
    if (!response_flags.empty()) response_flags += ',';
    response_flags.append(flag.data(), flag.size());
  }
  bool hasResponseFlag(absl::string_view flag) const {
    for (absl::string_view rest = response_flags; !rest.empty();) {
      size_t comma = rest.find(',');
      if (rest.substr(0, comma) == flag) return true;
      if (comma == absl::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    return false;
  }
  std::chrono::microseconds sinceStart(std::chrono::steady_clock::time_point now) const {
    return std::chrono::duration_cast<std::chrono::microseconds>(now - start);
  }
};

}  // namespace skiff
