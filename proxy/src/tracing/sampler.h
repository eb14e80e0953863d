#pragma once

// Sampling decisions for trace contexts.
//
// - Forced: the debugging header (x-skiff-force-trace by default) or B3's debug flag samples
//   whatever else was said.
// - Parent-based: a decision that came with the request (the traceparent's sampled flag, B3's
//   sampled state) is followed, so a trace is recorded whole or not at all.
// - Otherwise (a new trace, or B3 that deferred the decision), the ratio decides from the trace
//   id alone, as OpenTelemetry's TraceIdRatioBased sampler does: the lower 64 bits shifted right
//   by one, below ratio * 2^63. Every hop that decides for the same trace id decides alike.

#include <cstdint>

#include "tracing/trace_context.h"

namespace skiff::tracing {

class RatioSampler {
 public:
  // `ratio` in [0, 1]; values outside are clamped.
  explicit RatioSampler(double ratio);
  bool sampled(const TraceId& trace_id) const {
    return always_ || (trace_id.low >> 1) < upper_bound_;
  }
  double ratio() const { return ratio_; }

 private:
  double ratio_;
  bool always_;
  uint64_t upper_bound_;
};

// The decision for this hop: `incoming` is what the request carried (kUnset when nothing or a
// new trace), `forced` whether the force header asked for sampling.
inline Sampling decideSampling(Sampling incoming, bool forced, const TraceId& trace_id,
                               const RatioSampler& sampler) {
  if (incoming == Sampling::kDebug) return Sampling::kDebug;
  if (forced) return Sampling::kSample;
  if (incoming != Sampling::kUnset) return incoming;
  return sampler.sampled(trace_id) ? Sampling::kSample : Sampling::kDrop;
}

inline bool isSampled(Sampling sampling) {
  return sampling == Sampling::kSample || sampling == Sampling::kDebug;
}

}  // namespace skiff::tracing
