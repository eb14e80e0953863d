#pragma once

// One listener compiled for the workers: the HTTP or TCP handler settings, shared read-only.
// Built on the main thread from a config::v1::Listener, static or dynamic alike.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "access_log/access_log.h"
#include "filters/network/tcp_proxy.h"
#include "http/http_listener_config.h"
#include "http/listener_stats.h"
#include "server/destination_chain.h"
#include "skiff/config/v1/listener.pb.h"
#include "tls/tls_settings.h"

namespace skiff::server {

struct ListenerSettings {
  std::string name;
  std::shared_ptr<const http::HttpListenerConfig> http;
  std::shared_ptr<const filters::TcpProxyConfig> tcp;
  // With `http`: where connections that do not speak HTTP go (null: nowhere, they get 400).
  std::shared_ptr<const filters::TcpProxyConfig> tcp_fallback;
  std::chrono::milliseconds detection_timeout{100};
  // Mutual TLS (null: plaintext only). Set by the ListenerManager, which owns the registry.
  std::shared_ptr<const tls::DownstreamTlsSettings> tls;
  // Read each accepted connection's original destination (SO_ORIGINAL_DST).
  bool use_original_dst = false;
  // Tried in order on the destination; the first match proxies the connection as TCP.
  std::vector<DestinationChain> destination_chains;
};

using ListenerSettingsConstSharedPtr = std::shared_ptr<const ListenerSettings>;

// Access-log files by path, opened once and shared by every listener that names them.
class AccessLogSinks {
 public:
  // With a registry, each sink counts the lines it drops in skiff_access_log_dropped_total.
  explicit AccessLogSinks(stats::Registry* registry = nullptr) : registry_(registry) {}
  // Null sink for an empty path (logging off).
  absl::StatusOr<std::shared_ptr<access_log::Sink>> open(const config::v1::AccessLog& config);

 private:
  stats::Registry* registry_;
  std::map<std::string, std::shared_ptr<access_log::Sink>> sinks_;
};

// Compiles the inline route table (a listener with `http.rds` gets its table per request from
// the worker's route map instead) and opens the access logs. Binds nothing.
absl::StatusOr<ListenerSettingsConstSharedPtr> buildListenerSettings(
    const config::v1::Listener& listener, http::ListenerStats* stats, AccessLogSinks& sinks);

}  // namespace skiff::server
