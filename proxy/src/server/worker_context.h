#pragma once

// What a downstream connection needs from the worker it lives on.

#include <memory>
#include <string>

#include "access_log/access_log.h"
#include "common/random.h"
#include "event/dispatcher.h"
#include "router/route_table.h"
#include "upstream/thread_local_clusters.h"

namespace skiff::server {

// A downstream connection the worker tracks, so draining can reach it.
class DownstreamConnection {
 public:
  virtual ~DownstreamConnection() = default;
  // Finish what is in flight, then close; close at once when idle.
  virtual void drain() = 0;
  // Still waiting for its first bytes to say what it speaks (protocol or TLS detection).
  // Nothing is in flight yet, and it is handed on with the settings it was accepted with, so a
  // listener update leaves it alone; the session it becomes is drained once it starts.
  virtual bool deciding() const { return false; }
};

class WorkerContext {
 public:
  virtual ~WorkerContext() = default;
  virtual event::Dispatcher& dispatcher() = 0;
  virtual Random& random() = 0;
  virtual upstream::ThreadLocalClusters& clusters() = 0;
  // The worker's current route table of that name (from the discovery stream); null if none.
  virtual std::shared_ptr<const router::RouteTable> routeTable(const std::string& name) = 0;
  // The worker's buffered logger for `sink`; nullptr when `sink` is null.
  virtual access_log::Logger* accessLogger(const std::shared_ptr<access_log::Sink>& sink) = 0;
  virtual bool draining() const = 0;
  // The connection has closed; the worker destroys it on a later loop turn.
  virtual void onDownstreamClosed(DownstreamConnection& connection) = 0;
};

}  // namespace skiff::server
