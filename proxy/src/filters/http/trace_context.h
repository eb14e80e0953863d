#pragma once

// Trace context for listeners with `http.tracing` (see docs/observability.md): every request
// leaves with a W3C traceparent for this hop.
//
// - The incoming context is read from a valid traceparent (W3C), else from b3 or the x-b3-*
//   headers (B3), as the configuration accepts them. None: this hop starts a trace.
// - A malformed header never fails the request: it is counted
//   (skiff_tracing_malformed_headers_total{listener,format}) and ignored, so the request starts
//   a new trace (or takes the other format's context).
// - This hop gets a new span id. Upstream gets traceparent "00-{trace}-{this span}-{flags}";
//   tracestate goes on unchanged with the traceparent it belongs to (and is dropped when that
//   traceparent was not used); B3 headers are rewritten for this span in the form they came
//   in when keep_b3 (else removed).
// - Sampling (tracing/sampler.h): forced, else the caller's decision, else the ratio.
// - The ids and the decision go into StreamInfo::trace.
//
// One pass over the request headers, rewrites in place where the header exists, ids from the
// worker's random source: no syscall, and no allocation beyond a header that was not there.

#include <memory>

#include "http/filter.h"
#include "http/filter_chain.h"
#include "http/listener_stats.h"
#include "tracing/tracing_config.h"

namespace skiff::filters {

class TraceContextFilter : public http::StreamDecoderFilter {
 public:
  // `stats` may be null (no counting). The factory keeps `config` alive for its filters.
  static http::FilterChainFactory::Factory factory(
      std::shared_ptr<const tracing::TracingConfig> config, http::ListenerStats* stats);
  TraceContextFilter(const tracing::TracingConfig& config, http::ListenerStats* stats)
      : config_(config), stats_(stats) {}

  void setDecoderFilterCallbacks(http::DecoderFilterCallbacks& callbacks) override {
    callbacks_ = &callbacks;
  }
  http::FilterStatus decodeHeaders(http::RequestHead& head, bool end_stream) override;

 private:
  void countMalformed(http::ListenerStats::TraceFormat format);

  const tracing::TracingConfig& config_;
  http::ListenerStats* stats_;
  http::DecoderFilterCallbacks* callbacks_ = nullptr;
};

}  // namespace skiff::filters
