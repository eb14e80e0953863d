#pragma once

// The admin HTTP server on the main thread: a tiny HTTP/1.1 server over the same codec as the
// data path, dispatching exact paths to handlers the server registers.

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "event/dispatcher.h"
#include "http/header_map.h"
#include "net/listener.h"

namespace skiff::admin {

struct AdminResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class AdminServer {
 public:
  using Handler = std::function<AdminResponse(const http::RequestHead&)>;

  explicit AdminServer(event::Dispatcher& dispatcher);
  ~AdminServer();

  // `method` is "GET" or "POST"; GET handlers also answer HEAD.
  void addHandler(const std::string& method, const std::string& path, Handler handler);
  absl::Status listen(const net::SocketAddress& address);
  const net::SocketAddress& boundAddress() const { return bound_; }

 private:
  class Session;
  AdminResponse handle(const http::RequestHead& head);
  void onSessionClosed(Session* session);

  event::Dispatcher& dispatcher_;
  std::map<std::string, std::map<std::string, Handler>> handlers_;  // path -> method -> handler
  std::unique_ptr<net::TcpListener> listener_;
  net::SocketAddress bound_;
  absl::flat_hash_map<Session*, std::unique_ptr<Session>> sessions_;
};

}  // namespace skiff::admin
