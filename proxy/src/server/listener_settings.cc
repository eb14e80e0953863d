#include "server/listener_settings.h"

#include "absl/strings/str_cat.h"
#include "config/defaults.h"
#include "config/duration.h"
#include "filters/authz/listener_authorization.h"
#include "router/route_rate_limit.h"
#include "router/route_table.h"
#include "server/http_filter_chains.h"
#include "tracing/tracing_config.h"

namespace skiff::server {

absl::StatusOr<std::shared_ptr<access_log::Sink>> AccessLogSinks::open(
    const config::v1::AccessLog& config) {
  if (config.path().empty()) return std::shared_ptr<access_log::Sink>();
  auto& sink = sinks_[config.path()];
  if (!sink) {
    stats::Counter* dropped =
        registry_ == nullptr
            ? nullptr
            : &registry_->counter("skiff_access_log_dropped_total",
                                  "Access-log lines dropped because the log's reader fell "
                                  "behind (or writes failed); requests never wait for the log.",
                                  {{"path", config.path()}});
    auto opened = access_log::Sink::open(config.path(), dropped);
    if (!opened.ok()) return opened.status();
    sink = *opened;
  }
  return sink;
}

namespace {

absl::StatusOr<std::shared_ptr<const filters::TcpProxyConfig>> buildTcpProxyConfig(
    const std::string& listener_name, const config::v1::TcpProxy& tcp, http::ListenerStats* stats,
    AccessLogSinks& sinks,
    std::shared_ptr<const filters::authz::ListenerAuthorization> authorization) {
  auto config = std::make_shared<filters::TcpProxyConfig>();
  config->listener_name = listener_name;
  config->cluster = tcp.cluster();
  config->idle_timeout = config::millisecondsOr(tcp.has_idle_timeout(), tcp.idle_timeout(),
                                                config::kDefaultTcpIdleTimeout);
  auto sink = sinks.open(tcp.access_log());
  if (!sink.ok()) return sink.status();
  config->access_log = *sink;
  config->stats = stats;
  config->authorization = std::move(authorization);
  return config;
}

// Shared by the listener's HTTP side and every TCP handler of it (tcp_proxy, tcp_fallback,
// destination chains): one policy per listener.
std::shared_ptr<const filters::authz::ListenerAuthorization> buildAuthorization(
    const config::v1::Listener& listener, http::ListenerStats* stats) {
  if (!listener.has_authorization() || stats == nullptr) return nullptr;
  return std::make_shared<const filters::authz::ListenerAuthorization>(
      listener.authorization(), listener.name(), listener.address().port(), *stats);
}

bool anyRouteRateLimit(const config::v1::RouteConfiguration& routes) {
  for (const auto& host : routes.virtual_hosts()) {
    for (const auto& route : host.routes()) {
      if (route.has_local_rate_limit()) return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<ListenerSettingsConstSharedPtr> buildListenerSettings(
    const config::v1::Listener& listener, http::ListenerStats* stats, AccessLogSinks& sinks) {
  auto settings = std::make_shared<ListenerSettings>();
  settings->name = listener.name();
  auto authorization = buildAuthorization(listener, stats);
  if (listener.has_http()) {
    const auto& hcm = listener.http();
    auto config = std::make_shared<http::HttpListenerConfig>();
    config->name = listener.name();
    if (hcm.has_rds()) {
      config->rds_name = hcm.rds().route_config_name();
    } else {
      auto routes = router::RouteTable::create(hcm.route_config());
      if (!routes.ok()) return routes.status();
      config->routes = *routes;
    }
    uint32_t headers_kb = hcm.max_request_headers_kb() > 0 ? hcm.max_request_headers_kb()
                                                            : config::kDefaultMaxRequestHeadersKb;
    config->limits.max_header_bytes = headers_kb * 1024;
    config->limits.max_body_bytes = hcm.max_request_body_bytes();
    config->idle_timeout = config::millisecondsOr(hcm.has_idle_timeout(), hcm.idle_timeout(),
                                                  config::kDefaultHttpIdleTimeout);
    auto sink = sinks.open(hcm.access_log());
    if (!sink.ok()) return sink.status();
    config->access_log = *sink;
    config->stats = stats;
    config->codec_type = hcm.codec_type();
    config->http2 = hcm.http2();
    HttpFilterSettings filters;
    filters.authorization = authorization;
    filters.stats = stats;
    if (hcm.has_local_rate_limit()) {
      auto limit = router::LocalRateLimit::create(hcm.local_rate_limit(), "http.local_rate_limit");
      if (!limit.ok()) return limit.status();
      filters.rate_limit = std::move(*limit);
    }
    filters.route_rate_limits = hcm.has_rds() || anyRouteRateLimit(hcm.route_config());
    if (hcm.has_tracing()) {
      auto tracing = tracing::TracingConfig::create(hcm.tracing(), "http.tracing");
      if (!tracing.ok()) return tracing.status();
      filters.tracing = std::move(*tracing);
    }
    if (listener.has_tls()) {
      filters.client_identity_header = listener.tls().client_identity_header().empty()
                                           ? config::kDefaultClientIdentityHeader
                                           : listener.tls().client_identity_header();
    }
    config->filter_chain = buildHttpFilterChain(listener.traffic_direction(), filters);
    settings->http = std::move(config);
  }
  // The L4 handler, or the fallback of an HTTP listener for connections that are not HTTP.
  if (listener.has_tcp_proxy() || listener.has_tcp_fallback()) {
    auto config = buildTcpProxyConfig(
        listener.name(), listener.has_tcp_proxy() ? listener.tcp_proxy() : listener.tcp_fallback(),
        stats, sinks, authorization);
    if (!config.ok()) return config.status();
    if (listener.has_tcp_proxy()) {
      settings->tcp = std::move(*config);
    } else {
      settings->tcp_fallback = std::move(*config);
    }
  }
  settings->use_original_dst = listener.use_original_dst();
  for (int i = 0; i < listener.destination_chains_size(); ++i) {
    const auto& chain = listener.destination_chains(i);
    DestinationChain compiled;
    compiled.name = chain.name();
    compiled.port = static_cast<uint16_t>(chain.port());
    for (int j = 0; j < chain.addresses_size(); ++j) {
      auto range = CidrRange::parse(chain.addresses(j));
      if (!range.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("destination_chains[", i, "].addresses[",
                                                       j, "]: ", range.status().message()));
      }
      compiled.ranges.push_back(*range);
    }
    auto config = buildTcpProxyConfig(listener.name(), chain.tcp_proxy(), stats, sinks,
                                      authorization);
    if (!config.ok()) return config.status();
    compiled.tcp = std::move(*config);
    settings->destination_chains.push_back(std::move(compiled));
  }
  settings->detection_timeout = config::millisecondsOr(
      listener.has_protocol_detection_timeout(), listener.protocol_detection_timeout(),
      config::kDefaultProtocolDetectionTimeout);
  return settings;
}

}  // namespace skiff::server
