#include "net/connection.h"

#include <functional>
#include <string>

#include "gtest/gtest.h"
#include "net/listener.h"

namespace skiff::net {
namespace {

// Records what a connection reports.
struct Recorder : ConnectionCallbacks {
  std::string received;
  bool eof = false;
  std::vector<ConnectionEvent> events;
  int above = 0, below = 0;
  std::function<void()> on_change;
  void onRead(Buffer& data, bool end_stream) override {
    received += data.toString();
    data.clear();
    eof = eof || end_stream;
    if (on_change) on_change();
  }
  void onEvent(ConnectionEvent event) override {
    events.push_back(event);
    if (on_change) on_change();
  }
  void onAboveWriteBufferHighWatermark() override { ++above; }
  void onBelowWriteBufferLowWatermark() override { ++below; }
};

class ConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto address = parseIpAndPort("127.0.0.1", 0);
    ASSERT_TRUE(address.ok());
    auto sockets = bindReusePortSockets(*address, 1);
    ASSERT_TRUE(sockets.ok()) << sockets.status();
    bound_ = (*sockets)[0].boundAddress();
    auto listener = TcpListener::create(dispatcher_, std::move((*sockets)[0]),
                                        [this](std::unique_ptr<Connection> c) {
                                          server_ = std::move(c);
                                          server_->setCallbacks(&server_side_);
                                          server_->startReading();
                                          if (server_side_.on_change) server_side_.on_change();
                                        });
    ASSERT_TRUE(listener.ok());
    listener_ = std::move(*listener);
    client_ = Connection::connect(dispatcher_, bound_.get(), std::chrono::milliseconds(1000));
    client_->setCallbacks(&client_side_);
  }

  // Runs the loop until `done` holds (or a 5 s safety stop).
  void runUntil(std::function<bool()> done) {
    auto check = [&] {
      if (done()) dispatcher_.exit();
    };
    client_side_.on_change = check;
    server_side_.on_change = check;
    auto poll = dispatcher_.createTimer([] {});
    std::function<void()> tick;
    std::unique_ptr<event::Timer> ticker;
    ticker = dispatcher_.createTimer([&] {
      check();
      ticker->enable(std::chrono::milliseconds(1));
    });
    ticker->enable(std::chrono::milliseconds(1));
    auto safety = dispatcher_.createTimer([&] { dispatcher_.exit(); });
    safety->enable(std::chrono::milliseconds(5000));
    dispatcher_.run();
  }

  event::Dispatcher dispatcher_{"test"};
  SocketAddress bound_;
  std::unique_ptr<TcpListener> listener_;
  std::unique_ptr<Connection> client_;
  std::unique_ptr<Connection> server_;
  Recorder client_side_;
  Recorder server_side_;
};

TEST_F(ConnectionTest, BytesFlowBothWays) {
  Buffer hello;
  hello.add("hello");
  client_->write(hello, false);
  runUntil([&] { return server_side_.received == "hello"; });
  ASSERT_EQ(server_side_.received, "hello");
  Buffer reply;
  reply.add("world");
  server_->write(reply, false);
  runUntil([&] { return client_side_.received == "world"; });
  EXPECT_EQ(client_side_.received, "world");
  EXPECT_EQ(client_side_.events.front(), ConnectionEvent::kConnected);
}

TEST_F(ConnectionTest, HalfCloseDeliversEndOfStreamAndKeepsTheOtherDirection) {
  Buffer data;
  data.add("last words");
  client_->write(data, true);
  runUntil([&] { return server_side_.eof; });
  EXPECT_EQ(server_side_.received, "last words");
  EXPECT_TRUE(server_side_.eof);
  Buffer reply;
  reply.add("still heard");
  server_->write(reply, true);
  runUntil([&] { return client_side_.eof; });
  EXPECT_EQ(client_side_.received, "still heard");
}

TEST_F(ConnectionTest, WriteBufferWatermarksSignalASlowReader) {
  runUntil([&] { return server_ != nullptr && !client_->connecting(); });
  ASSERT_NE(server_, nullptr);
  server_->readDisable(true);  // the peer stops reading
  client_->setWriteBufferWatermarks(64 * 1024);
  std::string chunk(64 * 1024, 'x');
  // Fill the kernel buffers until our own buffer goes over the high watermark.
  for (int i = 0; i < 1000 && client_side_.above == 0; ++i) {
    Buffer data;
    data.add(chunk);
    client_->write(data, false);
  }
  EXPECT_EQ(client_side_.above, 1);
  size_t buffered = client_->bufferedWriteBytes();
  EXPECT_GT(buffered, 64u * 1024);
  server_->readDisable(false);
  runUntil([&] { return client_side_.below > 0; });
  EXPECT_EQ(client_side_.below, 1);
}

TEST(ConnectionConnectTest, RefusedConnectionReportsConnectFailed) {
  event::Dispatcher dispatcher("test");
  // Bind a port, then close it, so nothing listens there.
  auto address = parseIpAndPort("127.0.0.1", 0);
  SocketAddress closed;
  {
    auto sockets = bindReusePortSockets(*address, 1);
    ASSERT_TRUE(sockets.ok());
    closed = (*sockets)[0].boundAddress();
  }
  Recorder recorder;
  recorder.on_change = [&] { dispatcher.exit(); };
  auto connection = Connection::connect(dispatcher, closed.get(), std::chrono::milliseconds(1000));
  connection->setCallbacks(&recorder);
  auto safety = dispatcher.createTimer([&] { dispatcher.exit(); });
  safety->enable(std::chrono::milliseconds(5000));
  dispatcher.run();
  ASSERT_EQ(recorder.events.size(), 1u);
  EXPECT_EQ(recorder.events[0], ConnectionEvent::kConnectFailed);
  EXPECT_FALSE(connection->connectTimedOut());
}

}  // namespace
}  // namespace skiff::net
