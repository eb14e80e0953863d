// net::Connection with a TLS transport, over real loopback sockets: owners see plaintext, the
// client's kConnected waits for the handshake, a failed handshake is kConnectFailed.

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "../tls/test_certificates.h"
#include "gtest/gtest.h"
#include "net/connection.h"
#include "net/listener.h"
#include "tls/tls_context.h"
#include "tls/tls_transport.h"

namespace skiff::net {
namespace {

constexpr char kClientId[] = "spiffe://test.local/ns/default/sa/client";
constexpr char kServerId[] = "spiffe://test.local/ns/default/sa/server";

struct Recorder : ConnectionCallbacks {
  std::string received;
  bool eof = false;
  std::vector<ConnectionEvent> events;
  std::string identity_at_connect;
  Connection* connection = nullptr;
  void onRead(Buffer& data, bool end_stream) override {
    received += data.toString();
    data.clear();
    eof = eof || end_stream;
  }
  void onEvent(ConnectionEvent event) override {
    events.push_back(event);
    if (event == ConnectionEvent::kConnected && connection != nullptr) {
      identity_at_connect = connection->peerIdentity();
    }
  }
  bool saw(ConnectionEvent event) const {
    return std::find(events.begin(), events.end(), event) != events.end();
  }
};

class TlsConnectionTest : public ::testing::Test {
 protected:
  TlsConnectionTest()
      : ca_(tls::testing::makeCa("ca")),
        client_leaf_(tls::testing::makeLeaf(ca_, kClientId)),
        server_leaf_(tls::testing::makeLeaf(ca_, kServerId)) {
    client_context_ = *tls::TlsContext::create(tls::testing::bundleFor(client_leaf_, ca_));
    server_context_ = *tls::TlsContext::create(tls::testing::bundleFor(server_leaf_, ca_));
  }

  void listen(bool server_tls = true) {
    auto address = parseIpAndPort("127.0.0.1", 0);
    auto sockets = bindReusePortSockets(*address, 1);
    ASSERT_TRUE(sockets.ok()) << sockets.status();
    bound_ = (*sockets)[0].boundAddress();
    auto listener = TcpListener::create(
        dispatcher_, std::move((*sockets)[0]), [this, server_tls](std::unique_ptr<Connection> c) {
          server_ = std::move(c);
          if (server_tls) {
            server_->startServerTls(
                tls::TlsTransport::newServer(server_context_, std::string("\x02h2", 3), nullptr));
          }
          server_side_.connection = server_.get();
          server_->setCallbacks(&server_side_);
          server_->startReading();
        });
    ASSERT_TRUE(listener.ok());
    listener_ = std::move(*listener);
  }

  void connect(std::unique_ptr<tls::TlsTransport> transport, bool tls = true) {
    client_ = Connection::connect(dispatcher_, bound_.get(), std::chrono::milliseconds(2000));
    if (tls) client_->startClientTls(std::move(transport));
    client_side_.connection = client_.get();
    client_->setCallbacks(&client_side_);
  }

  std::unique_ptr<tls::TlsTransport> clientTransport(std::vector<std::string> allowed = {}) {
    tls::ClientOptions options;
    options.allowed_identities = std::move(allowed);
    options.alpn_wire = std::string("\x02h2", 3);
    return tls::TlsTransport::newClient(client_context_, options, nullptr);
  }

  void runUntil(std::function<bool()> done) {
    std::unique_ptr<event::Timer> ticker;
    ticker = dispatcher_.createTimer([&] {
      if (done()) {
        dispatcher_.exit();
        return;
      }
      ticker->enable(std::chrono::milliseconds(1));
    });
    ticker->enable(std::chrono::milliseconds(1));
    auto safety = dispatcher_.createTimer([&] { dispatcher_.exit(); });
    safety->enable(std::chrono::milliseconds(5000));
    dispatcher_.run();
  }

  event::Dispatcher dispatcher_{"test"};
  tls::testing::KeyAndCert ca_, client_leaf_, server_leaf_;
  tls::TlsContextConstSharedPtr client_context_, server_context_;
  SocketAddress bound_;
  std::unique_ptr<TcpListener> listener_;
  std::unique_ptr<Connection> client_, server_;
  Recorder client_side_, server_side_;
};

TEST_F(TlsConnectionTest, OwnersSeePlaintextAndConnectedWaitsForTheHandshake) {
  listen();
  connect(clientTransport({kServerId}));
  // Written while connecting: held until the handshake is done, then encrypted.
  Buffer early;
  early.add("hello over tls");
  client_->write(early, false);
  EXPECT_TRUE(client_->secure());
  runUntil([&] { return server_side_.received == "hello over tls"; });
  ASSERT_EQ(server_side_.received, "hello over tls");
  ASSERT_EQ(client_side_.events.size(), 1u);
  EXPECT_EQ(client_side_.events[0], ConnectionEvent::kConnected);
  // By kConnected the server's identity is known.
  EXPECT_EQ(client_side_.identity_at_connect, kServerId);
  EXPECT_EQ(server_->peerIdentity(), kClientId);
  EXPECT_EQ(server_->localIdentity(), kServerId);
  EXPECT_EQ(client_->negotiatedAlpn(), "h2");

  std::string big(300000, 'z');
  Buffer reply;
  reply.add(big);
  server_->write(reply, true);  // and half-close (close_notify, then FIN)
  runUntil([&] { return client_side_.eof; });
  EXPECT_EQ(client_side_.received.size(), big.size());
  EXPECT_TRUE(client_side_.eof);
}

TEST_F(TlsConnectionTest, IdentityNotAllowedIsAConnectFailure) {
  listen();
  connect(clientTransport({"spiffe://test.local/ns/default/sa/other"}));
  Buffer early;
  early.add("must never arrive");
  client_->write(early, false);
  runUntil([&] {
    return !client_side_.events.empty() && server_side_.saw(ConnectionEvent::kRemoteClose);
  });
  ASSERT_EQ(client_side_.events.size(), 1u);
  EXPECT_EQ(client_side_.events[0], ConnectionEvent::kConnectFailed);
  EXPECT_FALSE(client_->connectTimedOut());
  EXPECT_EQ(server_side_.received, "");
}

TEST_F(TlsConnectionTest, NoIdentityYetIsAConnectFailure) {
  listen();
  connect(nullptr);
  runUntil([&] { return !client_side_.events.empty(); });
  ASSERT_EQ(client_side_.events.size(), 1u);
  EXPECT_EQ(client_side_.events[0], ConnectionEvent::kConnectFailed);
}

TEST_F(TlsConnectionTest, PlaintextToATlsServerIsClosed) {
  listen();
  connect(nullptr, /*tls=*/false);
  Buffer plain;
  plain.add("GET / HTTP/1.1\r\n\r\n");
  client_->write(plain, false);
  runUntil([&] { return server_side_.saw(ConnectionEvent::kRemoteClose); });
  EXPECT_TRUE(server_side_.saw(ConnectionEvent::kRemoteClose));
  EXPECT_EQ(server_side_.received, "");
}

TEST_F(TlsConnectionTest, TlsToAPlaintextServerFailsTheConnect) {
  listen(/*server_tls=*/false);
  connect(clientTransport());
  runUntil([&] { return server_side_.received.size() > 0; });
  EXPECT_TRUE(client_side_.events.empty());  // still connecting: no ServerHello came
  // The server got a ClientHello it cannot read; closing makes the client's connect fail.
  server_->close(Connection::CloseType::kNoFlush);
  runUntil([&] { return !client_side_.events.empty(); });
  ASSERT_FALSE(client_side_.events.empty());
  EXPECT_EQ(client_side_.events[0], ConnectionEvent::kConnectFailed);
}

// A client outside the loop, with OpenSSL on a blocking socket, so a test can end the stream
// the ways other TLS stacks do: close_notify while the socket stays open, or a TCP FIN alone.
class BlockingTlsClient {
 public:
  enum class Ending { kCloseNotifyOnly, kFinWithoutCloseNotify };
  BlockingTlsClient(SSL_CTX* context, const SocketAddress& server, std::string payload,
                    Ending ending)
      : thread_([=] { run(context, server, payload, ending); }) {}
  ~BlockingTlsClient() {
    release_ = true;
    thread_.join();
  }

 private:
  void run(SSL_CTX* context, const SocketAddress& server, const std::string& payload,
           Ending ending) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(fd, server.get(), sizeof(sockaddr_in)) != 0) return;
    SSL* ssl = SSL_new(context);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
      SSL_write(ssl, payload.data(), static_cast<int>(payload.size()));
      if (ending == Ending::kCloseNotifyOnly) {
        SSL_shutdown(ssl);  // close_notify; the socket stays open
      } else {
        ::shutdown(fd, SHUT_WR);  // the TCP stream ends with no close_notify before it
      }
      while (!release_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    SSL_free(ssl);
    ::close(fd);
  }
  std::atomic<bool> release_{false};
  std::thread thread_;
};

TEST_F(TlsConnectionTest, CloseNotifyWithoutFinIsTheEndOfStream) {
  listen();
  BlockingTlsClient client(client_context_->clientContext(), bound_, "all of it",
                           BlockingTlsClient::Ending::kCloseNotifyOnly);
  runUntil([&] { return server_side_.eof; });
  EXPECT_EQ(server_side_.received, "all of it");
  EXPECT_TRUE(server_side_.eof);
  EXPECT_TRUE(server_side_.events.empty());  // ended, not closed: our side may still answer
  // Our end (close_notify, then FIN) after the peer's closes the connection cleanly.
  Buffer reply;
  reply.add("bye");
  server_->write(reply, true);
  runUntil([&] { return !server_->isOpen(); });
  EXPECT_TRUE(server_->endedCleanly());
}

TEST_F(TlsConnectionTest, FinWithoutCloseNotifyIsAnAbortNotAnEndOfStream) {
  listen();
  BlockingTlsClient client(client_context_->clientContext(), bound_, "cut short",
                           BlockingTlsClient::Ending::kFinWithoutCloseNotify);
  runUntil([&] { return server_side_.saw(ConnectionEvent::kRemoteClose); });
  EXPECT_EQ(server_side_.received, "cut short");
  EXPECT_FALSE(server_side_.eof);  // the owner never sees a clean end of a truncated stream
  EXPECT_TRUE(server_side_.saw(ConnectionEvent::kRemoteClose));
  EXPECT_FALSE(server_->endedCleanly());
}

}  // namespace
}  // namespace skiff::net
