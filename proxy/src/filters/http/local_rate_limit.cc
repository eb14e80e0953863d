#include "filters/http/local_rate_limit.h"

#include <algorithm>
#include <string>

#include "event/dispatcher.h"
#include "router/route_rate_limit.h"
#include "router/route_table.h"
#include "server/worker_context.h"

namespace skiff::filters {

http::FilterChainFactory::Factory LocalRateLimitFilter::factory(
    std::shared_ptr<const router::LocalRateLimit> listener_limit, http::ListenerStats& stats) {
  return [listener_limit = std::move(listener_limit), &stats](http::FilterChainBuilder& chain) {
    chain.addFilter(std::make_unique<LocalRateLimitFilter>(listener_limit.get(), stats));
  };
}

http::FilterStatus LocalRateLimitFilter::decodeHeaders(http::RequestHead&, bool) {
  const router::RouteEntry* route = decoder_callbacks_->route();
  const router::LocalRateLimit* route_limit = route != nullptr ? route->rateLimit() : nullptr;
  if (route_limit == nullptr && listener_limit_ == nullptr) return http::FilterStatus::kContinue;
  const auto now = decoder_callbacks_->worker().dispatcher().timeSource().monotonicTime();

  const Admission by_route = admit(route_limit, http::ListenerStats::kRouteLimit, now);
  if (by_route == Admission::kRefused) return refuse(*route_limit, now);
  if (admit(listener_limit_, http::ListenerStats::kListenerLimit, now) == Admission::kRefused) {
    // Refused anyway: the route's token goes back, so the route's rate counts only requests
    // that went through.
    if (by_route == Admission::kTaken) route_limit->bucket().refund();
    return refuse(*listener_limit_, now);
  }
  return http::FilterStatus::kContinue;
}

LocalRateLimitFilter::Admission LocalRateLimitFilter::admit(
    const router::LocalRateLimit* limit, http::ListenerStats::RateLimitScope scope,
    std::chrono::steady_clock::time_point now) {
  if (limit == nullptr) return Admission::kNoLimit;
  if (limit->bucket().consume(now)) return Admission::kTaken;
  if (limit->shadow()) {
    stats_.rate_limit_shadow[scope]->inc();
    return Admission::kShadowed;
  }
  stats_.rate_limited[scope]->inc();
  return Admission::kRefused;
}

http::FilterStatus LocalRateLimitFilter::refuse(const router::LocalRateLimit& limit,
                                                std::chrono::steady_clock::time_point now) {
  // Whole seconds (RFC 9110 delay-seconds), rounded up, at least 1.
  const auto wait = limit.bucket().timeUntilNextFill(now);
  retry_after_seconds_ = std::max<int64_t>(
      1, std::chrono::ceil<std::chrono::seconds>(wait).count());
  // Envoy's local_ratelimit answers the same body, so clients and dashboards read it alike.
  decoder_callbacks_->sendLocalReply(429, "RL", "local_rate_limited");
  return http::FilterStatus::kStop;
}

http::FilterStatus LocalRateLimitFilter::encodeHeaders(http::ResponseHead& head, bool) {
  if (retry_after_seconds_ > 0) {
    head.headers.add("retry-after", std::to_string(retry_after_seconds_));
  }
  return http::FilterStatus::kContinue;
}

}  // namespace skiff::filters
