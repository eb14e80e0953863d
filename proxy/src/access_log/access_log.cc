#include "access_log/access_log.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json_string.h"
#include "tracing/trace_context.h"

namespace skiff::access_log {
namespace {

constexpr size_t kFlushThreshold = 16 * 1024;

// Milliseconds with exactly three decimals, from integer microseconds (no rounding noise).
std::string formatDurationMs(std::chrono::microseconds duration) {
  int64_t us = duration.count();
  const char* sign = "";
  uint64_t magnitude = static_cast<uint64_t>(us);
  if (us < 0) {
    sign = "-";
    magnitude = 0 - magnitude;
  }
  return absl::StrFormat("%s%d.%03d", sign, magnitude / 1000, magnitude % 1000);
}

// "trace_id":"<32 hex>","span_id":"<16 hex>" (W3C's spelling, as tracing backends search for
// them), or nulls when the stream has no trace context.
void appendTrace(std::string& out, const StreamInfo::Trace& trace) {
  if (!trace.active()) {
    out += ",\"trace_id\":null,\"span_id\":null";
    return;
  }
  char trace_id[tracing::kTraceIdHexSize];
  char span_id[tracing::kSpanIdHexSize];
  tracing::formatTraceId(trace.trace_id, false, trace_id);
  tracing::writeHex64(trace.span_id, span_id);
  out += ",\"trace_id\":\"";
  out.append(trace_id, sizeof(trace_id));
  out += "\",\"span_id\":\"";
  out.append(span_id, sizeof(span_id));
  out += '"';
}

}  // namespace

std::string formatJsonLine(const StreamInfo& entry) {
  std::string out;
  out.reserve(256 + entry.path.size() + entry.authority.size());
  out += "{\"time\":";
  appendJsonString(out,
                   absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", entry.start_time, absl::UTCTimeZone()));
  out += ",\"method\":";
  appendJsonString(out, entry.method);
  out += ",\"authority\":";
  appendJsonString(out, entry.authority);
  out += ",\"path\":";
  appendJsonString(out, entry.path);
  out += ",\"protocol\":";
  appendJsonString(out, entry.protocol);
  absl::StrAppend(&out, ",\"status\":", entry.status, ",\"grpc_status\":",
                  entry.grpc_status < 0 ? std::string("null") : std::to_string(entry.grpc_status),
                  ",\"bytes_received\":", entry.bytes_received,
                  ",\"bytes_sent\":", entry.bytes_sent,
                  ",\"duration_ms\":", formatDurationMs(entry.duration));
  out += ",\"upstream_cluster\":";
  appendJsonString(out, entry.upstream_cluster);
  out += ",\"upstream_host\":";
  appendJsonString(out, entry.upstream_host);
  out += ",\"flags\":";
  appendJsonString(out, entry.response_flags.empty() ? absl::string_view("-") : absl::string_view(entry.response_flags));
  out += ",\"request_id\":";
  appendJsonString(out, entry.request_id);
  out += ",\"downstream_remote\":";
  appendJsonString(out, entry.downstream_remote);
  appendTrace(out, entry.trace);
  out += "}\n";
  return out;
}

void Logger::log(const StreamInfo& entry) {
  pending_ += formatJsonLine(entry);
  if (pending_.size() > kFlushThreshold) flush();
}

void Logger::flush() {
  if (pending_.empty()) return;
  if (sink_ != nullptr) sink_->writeLines(std::move(pending_));
  pending_.clear();  // a moved-from string is valid but unspecified
}

}  // namespace skiff::access_log
