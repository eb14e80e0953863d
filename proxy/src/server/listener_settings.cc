#include "server/listener_settings.h"

#include "config/defaults.h"
#include "config/duration.h"
#include "router/route_table.h"

namespace skiff::server {

absl::StatusOr<std::shared_ptr<access_log::Sink>> AccessLogSinks::open(
    const config::v1::AccessLog& config) {
  if (config.path().empty()) return std::shared_ptr<access_log::Sink>();
  auto& sink = sinks_[config.path()];
  if (!sink) {
    auto opened = access_log::Sink::open(config.path());
    if (!opened.ok()) return opened.status();
    sink = *opened;
  }
  return sink;
}

absl::StatusOr<ListenerSettingsConstSharedPtr> buildListenerSettings(
    const config::v1::Listener& listener, http::ListenerStats* stats, AccessLogSinks& sinks) {
  auto settings = std::make_shared<ListenerSettings>();
  settings->name = listener.name();
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
    settings->http = std::move(config);
  }
  // The L4 handler, or the fallback of an HTTP listener for connections that are not HTTP.
  if (listener.has_tcp_proxy() || listener.has_tcp_fallback()) {
    const auto& tcp = listener.has_tcp_proxy() ? listener.tcp_proxy() : listener.tcp_fallback();
    auto config = std::make_shared<filters::TcpProxyConfig>();
    config->listener_name = listener.name();
    config->cluster = tcp.cluster();
    config->idle_timeout = config::millisecondsOr(tcp.has_idle_timeout(), tcp.idle_timeout(),
                                                  config::kDefaultTcpIdleTimeout);
    auto sink = sinks.open(tcp.access_log());
    if (!sink.ok()) return sink.status();
    config->access_log = *sink;
    config->stats = stats;
    if (listener.has_tcp_proxy()) {
      settings->tcp = std::move(config);
    } else {
      settings->tcp_fallback = std::move(config);
    }
  }
  settings->detection_timeout = config::millisecondsOr(
      listener.has_protocol_detection_timeout(), listener.protocol_detection_timeout(),
      config::kDefaultProtocolDetectionTimeout);
  return settings;
}

}  // namespace skiff::server
