#pragma once

// The compiled settings of an HTTP listener, shared read-only by all workers.

#include <chrono>
#include <memory>
#include <string>

#include "access_log/access_log.h"
#include "http/filter_chain.h"
#include "http/listener_stats.h"
#include "http1/codec.h"
#include "router/route_table.h"
#include "skiff/config/v1/listener.pb.h"

namespace skiff::http {

struct HttpListenerConfig {
  std::string name;
  // Inline routes. Null when the listener takes its routes from the discovery stream: then
  // each request looks up `rds_name` in its worker's current route map (a keep-alive
  // connection sees a new table on its next request; a request keeps the table it started with).
  std::shared_ptr<const router::RouteTable> routes;
  std::string rds_name;
  http1::CodecLimits limits;
  // A downstream connection with no request in flight is closed after this long (0: never).
  std::chrono::milliseconds idle_timeout{3600 * 1000};
  std::shared_ptr<access_log::Sink> access_log;  // null: off
  ListenerStats* stats = nullptr;
  config::v1::HttpConnectionManager::CodecType codec_type = config::v1::HttpConnectionManager::AUTO;
  config::v1::Http2Options http2;
  // What every request goes through, the router last (server/http_filter_chains.cc).
  FilterChainFactory filter_chain;
};

}  // namespace skiff::http
