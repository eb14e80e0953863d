#pragma once

// What HTTP/1.1 and HTTP/2 downstream connections share: the socket, the listener's settings and
// metrics, the client's address, the idle timer and the close path.

#include <memory>
#include <string>

#include "event/dispatcher.h"
#include "http/http_listener_config.h"
#include "net/connection.h"
#include "server/worker_context.h"

namespace skiff::http {

class HttpServerConnectionBase : public server::DownstreamConnection,
                                 public net::ConnectionCallbacks {
 protected:
  HttpServerConnectionBase(server::WorkerContext& worker,
                           std::shared_ptr<const HttpListenerConfig> config,
                           std::unique_ptr<net::Connection> connection);
  ~HttpServerConnectionBase() override;

  // Runs onIdleTimeout() after the listener's idle timeout (0: never); re-arming restarts it.
  void armIdleTimer();
  void disarmIdleTimer();
  virtual void onIdleTimeout() = 0;
  void closeConnection(net::Connection::CloseType type);
  // Handles the socket's close events: marks the connection closed and reports true once.
  bool onClosedEvent(net::ConnectionEvent event);
  // Adds the bytes read since the last call to the listener's counter.
  void countBytesReceived();

  server::WorkerContext& worker_;
  std::shared_ptr<const HttpListenerConfig> config_;
  ListenerStats& stats_;
  std::unique_ptr<net::Connection> connection_;
  const std::string remote_ip_;       // for x-forwarded-for
  const std::string remote_address_;  // for the access log
  bool closed_ = false;

 private:
  std::unique_ptr<event::Timer> idle_timer_;
  uint64_t bytes_received_reported_ = 0;
};

}  // namespace skiff::http
