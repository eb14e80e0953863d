#pragma once

// Local rate limiting, per request, after authorization and before routing: the matched
// route's limit (route.local_rate_limit) first, then the listener's (http.local_rate_limit).
// A request that finds a bucket empty is answered 429 "local_rate_limited" with flag RL and a
// retry-after header (seconds until the bucket's next fill); a gRPC call gets
// RESOURCE_EXHAUSTED. A shadow limit only counts. The buckets (router/route_rate_limit.h) are
// shared by every worker.
//
// Route limits are enforced here rather than by the router: a refusal then happens in one
// place, with one response and one set of counters, before the router starts any upstream
// work; and the route's limit is checked first, so requests a busy route refuses do not use
// up the listener's tokens and starve the other routes.

#include <memory>

#include "http/filter.h"
#include "http/filter_chain.h"
#include "http/listener_stats.h"

namespace skiff::router {
class LocalRateLimit;
}

namespace skiff::filters {

class LocalRateLimitFilter : public http::StreamFilter {
 public:
  // `listener_limit` may be null (then only routes' limits apply); the factory keeps it alive
  // and the filters it makes borrow it.
  static http::FilterChainFactory::Factory factory(
      std::shared_ptr<const router::LocalRateLimit> listener_limit, http::ListenerStats& stats);
  LocalRateLimitFilter(const router::LocalRateLimit* listener_limit, http::ListenerStats& stats)
      : listener_limit_(listener_limit), stats_(stats) {}

  void setDecoderFilterCallbacks(http::DecoderFilterCallbacks& callbacks) override {
    decoder_callbacks_ = &callbacks;
  }
  http::FilterStatus decodeHeaders(http::RequestHead& head, bool end_stream) override;

  void setEncoderFilterCallbacks(http::EncoderFilterCallbacks&) override {}
  // Adds retry-after to this filter's own refusal.
  http::FilterStatus encodeHeaders(http::ResponseHead& head, bool end_stream) override;

 private:
  enum class Admission { kNoLimit, kTaken, kShadowed, kRefused };
  Admission admit(const router::LocalRateLimit* limit, http::ListenerStats::RateLimitScope scope,
                  std::chrono::steady_clock::time_point now);
  http::FilterStatus refuse(const router::LocalRateLimit& limit,
                            std::chrono::steady_clock::time_point now);

  const router::LocalRateLimit* listener_limit_;
  http::ListenerStats& stats_;
  http::DecoderFilterCallbacks* decoder_callbacks_ = nullptr;
  int64_t retry_after_seconds_ = 0;  // set when this filter refused the request
};

}  // namespace skiff::filters
