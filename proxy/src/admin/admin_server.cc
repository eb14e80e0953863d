#include "admin/admin_server.h"

#include "absl/strings/str_cat.h"
#include "http1/codec.h"

namespace skiff::admin {

class AdminServer::Session : public net::ConnectionCallbacks,
                             public http1::RequestDecoderCallbacks {
 public:
  Session(AdminServer& server, std::unique_ptr<net::Connection> connection)
      : server_(server), connection_(std::move(connection)), decoder_(limits_, *this) {
    connection_->setCallbacks(this);
    connection_->startReading();
  }
  ~Session() override { connection_->setCallbacks(nullptr); }

  void onRead(Buffer& data, bool end_stream) override {
    while (!closed_) {
      auto error = decoder_.dispatch(data);
      if (error) {
        respond({error->status, "text/plain", absl::StrCat(error->detail, "\n")}, false, true);
        return;
      }
      if (!decoder_.messageComplete()) break;
      http::RequestHead head = std::move(head_);
      bool keep_alive = http1::wantsKeepAlive(head.protocol, head.headers);
      respond(server_.handle(head), head.method == "HEAD", !keep_alive);
      if (closed_) return;
      decoder_.startNextMessage();
    }
    if (end_stream && !closed_) close();
  }

  void onEvent(net::ConnectionEvent event) override {
    if (event == net::ConnectionEvent::kRemoteClose || event == net::ConnectionEvent::kLocalClose) {
      closed_ = true;
      server_.onSessionClosed(this);
    }
  }

  void onRequestHead(http::RequestHead&& head, bool) override { head_ = std::move(head); }
  void onRequestData(Buffer& data, bool) override { data.clear(); }
  void onRequestTrailers(http::HeaderMap&&) override {}

 private:
  void respond(const AdminResponse& response, bool head_only, bool close_after) {
    http::ResponseHead head;
    head.status = response.status;
    head.headers.add("content-type", response.content_type);
    head.headers.add("content-length", std::to_string(response.body.size()));
    head.headers.add("cache-control", "no-cache");
    if (close_after) head.headers.add("connection", "close");
    Buffer out;
    http1::encodeResponseHead(head, http1::BodyFraming::kContentLength, out);
    if (!head_only) out.add(response.body);
    connection_->write(out, false);
    if (close_after) close();
  }

  void close() {
    if (closed_) return;
    connection_->close(net::Connection::CloseType::kFlushWrite);
  }

  AdminServer& server_;
  std::unique_ptr<net::Connection> connection_;
  http1::CodecLimits limits_;
  http1::RequestDecoder decoder_;
  http::RequestHead head_;
  bool closed_ = false;
};

AdminServer::AdminServer(event::Dispatcher& dispatcher) : dispatcher_(dispatcher) {}

AdminServer::~AdminServer() {
  listener_.reset();
  sessions_.clear();
}

void AdminServer::addHandler(const std::string& method, const std::string& path,
                             Handler handler) {
  handlers_[path][method] = std::move(handler);
}

absl::Status AdminServer::listen(const net::SocketAddress& address) {
  auto sockets = net::bindReusePortSockets(address, 1);
  if (!sockets.ok()) return sockets.status();
  bound_ = (*sockets)[0].boundAddress();
  auto listener = net::TcpListener::create(
      dispatcher_, std::move((*sockets)[0]), [this](std::unique_ptr<net::Connection> c) {
        auto session = std::make_unique<Session>(*this, std::move(c));
        Session* key = session.get();
        sessions_.emplace(key, std::move(session));
      });
  if (!listener.ok()) return listener.status();
  listener_ = std::move(*listener);
  return absl::OkStatus();
}

AdminResponse AdminServer::handle(const http::RequestHead& head) {
  auto path = handlers_.find(std::string(head.pathWithoutQuery()));
  if (path == handlers_.end()) {
    std::string known;
    for (const auto& [name, methods] : handlers_) absl::StrAppend(&known, "  ", name, "\n");
    return {404, "text/plain", absl::StrCat("unknown admin path; try:\n", known)};
  }
  std::string method = head.method == "HEAD" ? "GET" : head.method;
  auto handler = path->second.find(method);
  if (handler == path->second.end()) {
    return {405, "text/plain", absl::StrCat("method ", head.method, " not allowed here\n")};
  }
  return handler->second(head);
}

void AdminServer::onSessionClosed(Session* session) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  dispatcher_.deferredDelete(std::move(it->second));
  sessions_.erase(it);
}

}  // namespace skiff::admin
