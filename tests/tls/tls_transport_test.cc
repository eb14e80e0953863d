#include "tls/tls_transport.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "stats/stats.h"
#include "test_certificates.h"
#include "tls/tls_context.h"

namespace skiff::tls {
namespace {

using testing::bundleFor;
using testing::KeyAndCert;
using testing::makeCa;
using testing::makeLeaf;

constexpr char kClientId[] = "spiffe://test.local/ns/default/sa/client";
constexpr char kServerId[] = "spiffe://test.local/ns/default/sa/server";

std::string alpn(std::initializer_list<const char*> names) {
  google::protobuf::RepeatedPtrField<std::string> list;
  for (const char* name : names) *list.Add() = name;
  return *alpnWireFormat(list);
}

TlsContextConstSharedPtr contextFor(const KeyAndCert& leaf, const KeyAndCert& trusted) {
  auto context = TlsContext::create(bundleFor(leaf, trusted));
  EXPECT_TRUE(context.ok()) << context.status();
  return context.ok() ? *context : nullptr;
}

// Two transports joined back to back: what one queues for the network, the other receives.
class TlsPairTest : public ::testing::Test {
 protected:
  TlsPairTest()
      : registry_(1),
        client_stats_(TlsHandshakeStats::create(registry_, "upstream", "c")),
        server_stats_(TlsHandshakeStats::create(registry_, "downstream", "s")),
        ca_(makeCa("ca")),
        client_leaf_(makeLeaf(ca_, kClientId)),
        server_leaf_(makeLeaf(ca_, kServerId)) {}

  void start(TlsContextConstSharedPtr client_context, TlsContextConstSharedPtr server_context,
             ClientOptions options = {}, std::string server_alpn = "") {
    client_ = TlsTransport::newClient(client_context, std::move(options), &client_stats_);
    server_ = TlsTransport::newServer(server_context, std::move(server_alpn), &server_stats_);
    client_status_ = client_->startHandshake(to_server_);
    pump();
  }
  void startDefault(ClientOptions options = {}) {
    start(contextFor(client_leaf_, ca_), contextFor(server_leaf_, ca_), std::move(options));
  }

  // Moves bytes both ways until neither side has anything to say (or one failed).
  void pump() {
    for (int i = 0; i < 20 && (to_server_.length() > 0 || to_client_.length() > 0); ++i) {
      if (to_server_.length() > 0 && server_status_.ok()) {
        server_status_ = server_->onNetworkData(to_server_, server_plain_, to_client_);
      }
      to_server_.clear();
      if (to_client_.length() > 0 && client_status_.ok()) {
        client_status_ = client_->onNetworkData(to_client_, client_plain_, to_server_);
      }
      to_client_.clear();
    }
  }

  stats::Registry registry_;
  TlsHandshakeStats client_stats_;
  TlsHandshakeStats server_stats_;
  KeyAndCert ca_;
  KeyAndCert client_leaf_;
  KeyAndCert server_leaf_;
  std::unique_ptr<TlsTransport> client_;
  std::unique_ptr<TlsTransport> server_;
  Buffer to_server_, to_client_, client_plain_, server_plain_;
  absl::Status client_status_, server_status_;
};

TEST_F(TlsPairTest, MutualHandshakeAndDataBothWays) {
  startDefault();
  ASSERT_TRUE(client_status_.ok()) << client_status_;
  ASSERT_TRUE(server_status_.ok()) << server_status_;
  ASSERT_TRUE(client_->handshakeComplete());
  ASSERT_TRUE(server_->handshakeComplete());
  EXPECT_EQ(client_->peerIdentity(), kServerId);
  EXPECT_EQ(server_->peerIdentity(), kClientId);
  EXPECT_EQ(client_->localIdentity(), kClientId);
  EXPECT_EQ(client_stats_.succeeded.value(), 1u);
  EXPECT_EQ(server_stats_.succeeded.value(), 1u);

  Buffer request;
  request.add("GET / HTTP/1.1\r\n");
  request.add(std::string(40000, 'x'));  // several records
  ASSERT_TRUE(client_->encrypt(request, to_server_).ok());
  EXPECT_EQ(request.length(), 0u);
  EXPECT_NE(to_server_.toString().find("GET /"), 0u);  // not in the clear
  pump();
  EXPECT_EQ(server_plain_.length(), 16u + 40000u);
  EXPECT_EQ(server_plain_.toString().substr(0, 16), "GET / HTTP/1.1\r\n");

  Buffer response;
  response.add("HTTP/1.1 200 OK\r\n\r\n");
  ASSERT_TRUE(server_->encrypt(response, to_client_).ok());
  pump();
  EXPECT_EQ(client_plain_.toString(), "HTTP/1.1 200 OK\r\n\r\n");

  server_->shutdown(to_client_);
  pump();
  EXPECT_TRUE(client_->peerClosed());
}

TEST_F(TlsPairTest, AlpnFollowsTheServersPreference) {
  ClientOptions options;
  options.alpn_wire = alpn({"http/1.1", "h2"});
  start(contextFor(client_leaf_, ca_), contextFor(server_leaf_, ca_), options,
        alpn({"h2", "http/1.1"}));
  ASSERT_TRUE(client_->handshakeComplete());
  EXPECT_EQ(client_->negotiatedAlpn(), "h2");
  EXPECT_EQ(server_->negotiatedAlpn(), "h2");
}

TEST_F(TlsPairTest, NoCommonAlpnStillConnects) {
  ClientOptions options;
  options.alpn_wire = alpn({"h2"});
  start(contextFor(client_leaf_, ca_), contextFor(server_leaf_, ca_), options, "");
  ASSERT_TRUE(client_->handshakeComplete());
  EXPECT_EQ(client_->negotiatedAlpn(), "");
}

TEST_F(TlsPairTest, AllowedIdentityMatches) {
  ClientOptions options;
  options.allowed_identities = {"spiffe://test.local/ns/default/sa/other", kServerId};
  startDefault(options);
  EXPECT_TRUE(client_->handshakeComplete());
  EXPECT_TRUE(client_status_.ok()) << client_status_;
}

TEST_F(TlsPairTest, IdentityNotAllowedFailsTheClient) {
  ClientOptions options;
  options.allowed_identities = {"spiffe://test.local/ns/default/sa/other"};
  startDefault(options);
  EXPECT_FALSE(client_status_.ok());
  EXPECT_NE(client_status_.message().find("not allowed"), std::string::npos) << client_status_;
  EXPECT_FALSE(client_->handshakeComplete());
  EXPECT_EQ(client_stats_.failed.value(), 1u);
  EXPECT_FALSE(server_->handshakeComplete() && server_status_.ok() &&
               server_plain_.length() > 0);
}

TEST_F(TlsPairTest, ServerFromAnotherCaIsRejected) {
  KeyAndCert other_ca = makeCa("other");
  KeyAndCert stranger = makeLeaf(other_ca, kServerId);
  start(contextFor(client_leaf_, ca_), contextFor(stranger, ca_));
  EXPECT_FALSE(client_status_.ok());
  EXPECT_FALSE(client_->handshakeComplete());
}

TEST_F(TlsPairTest, ClientFromAnotherCaIsRejected) {
  KeyAndCert other_ca = makeCa("other");
  KeyAndCert stranger = makeLeaf(other_ca, kClientId);
  start(contextFor(stranger, ca_), contextFor(server_leaf_, ca_));
  EXPECT_FALSE(server_status_.ok());
  EXPECT_FALSE(server_->handshakeComplete());
  EXPECT_EQ(server_stats_.failed.value(), 1u);
}

TEST_F(TlsPairTest, ExpiredServerCertificateIsRejected) {
  KeyAndCert expired = makeLeaf(ca_, kServerId, -7200, -3600);
  start(contextFor(client_leaf_, ca_), contextFor(expired, ca_));
  EXPECT_FALSE(client_status_.ok());
  EXPECT_NE(client_status_.message().find("expired"), std::string::npos) << client_status_;
}

TEST_F(TlsPairTest, NotYetValidClientCertificateIsRejected) {
  KeyAndCert future = makeLeaf(ca_, kClientId, 3600, 7200);
  start(contextFor(future, ca_), contextFor(server_leaf_, ca_));
  EXPECT_FALSE(server_status_.ok());
  EXPECT_FALSE(server_->handshakeComplete());
}

TEST_F(TlsPairTest, PeerWithoutSpiffeIdIsRejected) {
  KeyAndCert anonymous = makeLeaf(ca_, "");
  // Our own certificate must carry one: a context cannot be built from it...
  EXPECT_FALSE(TlsContext::create(bundleFor(anonymous, ca_)).ok());
  // ...so make a server that presents it anyway (a peer that is not a mesh proxy).
  TlsContextConstSharedPtr server_context = contextFor(server_leaf_, ca_);
  ASSERT_EQ(SSL_CTX_use_certificate(server_context->serverContext(), anonymous.cert), 1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey(server_context->serverContext(), anonymous.key), 1);
  start(contextFor(client_leaf_, ca_), server_context);
  EXPECT_FALSE(client_status_.ok());
  EXPECT_NE(client_status_.message().find("no spiffe"), std::string::npos) << client_status_;
  EXPECT_FALSE(client_->handshakeComplete());
}

TEST_F(TlsPairTest, PlaintextIntoTheServerIsCountedApart) {
  server_ = TlsTransport::newServer(contextFor(server_leaf_, ca_), "", &server_stats_);
  Buffer plaintext;
  plaintext.add("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  absl::Status status = server_->onNetworkData(plaintext, server_plain_, to_client_);
  EXPECT_TRUE(absl::IsPermissionDenied(status)) << status;
  EXPECT_EQ(server_stats_.plaintext_refused.value(), 1u);
  EXPECT_EQ(server_stats_.failed.value(), 0u);
  EXPECT_EQ(server_plain_.length(), 0u);
}

TEST_F(TlsPairTest, GarbageAfterTheHandshakeIsAnErrorNotACrash) {
  startDefault();
  ASSERT_TRUE(server_->handshakeComplete());
  Buffer garbage;
  // A well-formed application-data record header with a body that does not authenticate.
  garbage.add(std::string("\x17\x03\x03\x00\x40", 5));
  garbage.add(std::string(64, '\x5a'));
  absl::Status status = server_->onNetworkData(garbage, server_plain_, to_client_);
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(server_->failed());
  EXPECT_EQ(server_plain_.length(), 0u);
  // Once failed, it stays failed and takes nothing more.
  Buffer more;
  more.add("x");
  EXPECT_FALSE(server_->onNetworkData(more, server_plain_, to_client_).ok());
  Buffer plaintext;
  plaintext.add("reply");
  EXPECT_FALSE(server_->encrypt(plaintext, to_client_).ok());
}

TEST_F(TlsPairTest, HandshakeAcrossByteSizedPieces) {
  client_ = TlsTransport::newClient(contextFor(client_leaf_, ca_), {}, &client_stats_);
  server_ = TlsTransport::newServer(contextFor(server_leaf_, ca_), "", &server_stats_);
  ASSERT_TRUE(client_->startHandshake(to_server_).ok());
  // Feed every flight one byte at a time: the engine must wait for whole records.
  for (int round = 0; round < 10; ++round) {
    while (to_server_.length() > 0) {
      Buffer one;
      one.move(to_server_, 1);
      ASSERT_TRUE(server_->onNetworkData(one, server_plain_, to_client_).ok());
    }
    while (to_client_.length() > 0) {
      Buffer one;
      one.move(to_client_, 1);
      ASSERT_TRUE(client_->onNetworkData(one, client_plain_, to_server_).ok());
    }
  }
  EXPECT_TRUE(client_->handshakeComplete());
  EXPECT_TRUE(server_->handshakeComplete());
}

}  // namespace
}  // namespace skiff::tls
