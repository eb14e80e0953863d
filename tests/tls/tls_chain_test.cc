// A proxy sends exactly the chain it was configured with: OpenSSL's "auto chain" (rebuilding
// our own chain from the trust store on every handshake) is off, because it cost a quarter of
// a mutual handshake's CPU (tools/bench-mtls). So a leaf issued by an intermediate must come
// with that intermediate in its chain file, even when the trust bundle holds it.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "stats/stats.h"
#include "test_certificates.h"
#include "tls/tls_context.h"
#include "tls/tls_transport.h"

namespace skiff::tls {
namespace {

using testing::addExtension;
using testing::KeyAndCert;
using testing::makeCa;
using testing::makeLeaf;
using testing::newCertificate;
using testing::newP256Key;

constexpr char kClientId[] = "spiffe://test.local/ns/default/sa/client";
constexpr char kServerId[] = "spiffe://test.local/ns/default/sa/server";

KeyAndCert makeIntermediate(const KeyAndCert& root) {
  KeyAndCert ca;
  ca.key = newP256Key();
  ca.cert = newCertificate(ca.key, "intermediate", 50, -3600, 86400);
  X509_set_issuer_name(ca.cert, X509_get_subject_name(root.cert));
  addExtension(ca.cert, root.cert, NID_basic_constraints, "critical,CA:TRUE");
  addExtension(ca.cert, root.cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  addExtension(ca.cert, ca.cert, NID_subject_key_identifier, "hash");
  X509_sign(ca.cert, root.key, EVP_sha256());
  return ca;
}

class TlsChainTest : public ::testing::Test {
 protected:
  TlsChainTest()
      : registry_(1),
        client_stats_(TlsHandshakeStats::create(registry_, "upstream", "c")),
        server_stats_(TlsHandshakeStats::create(registry_, "downstream", "s")),
        root_(makeCa("root")),
        intermediate_(makeIntermediate(root_)),
        client_leaf_(makeLeaf(root_, kClientId)),
        server_leaf_(makeLeaf(intermediate_, kServerId)) {}

  // The server's trust bundle holds the root and the intermediate (what auto chain would have
  // sent from); the client trusts the root alone. Returns the client's handshake status.
  absl::Status handshake(bool intermediate_in_chain_file) {
    CertificateBundle server;
    server.certificate_chain_pem = server_leaf_.certPem();
    if (intermediate_in_chain_file) server.certificate_chain_pem += intermediate_.certPem();
    server.private_key_pem = server_leaf_.keyPem();
    server.trust_bundle_pem = root_.certPem() + intermediate_.certPem();
    CertificateBundle client;
    client.certificate_chain_pem = client_leaf_.certPem();
    client.private_key_pem = client_leaf_.keyPem();
    client.trust_bundle_pem = root_.certPem();
    auto server_context = TlsContext::create(server);
    auto client_context = TlsContext::create(client);
    EXPECT_TRUE(server_context.ok()) << server_context.status();
    EXPECT_TRUE(client_context.ok()) << client_context.status();
    if (!server_context.ok() || !client_context.ok()) return absl::InternalError("contexts");

    auto client_transport = TlsTransport::newClient(*client_context, {}, &client_stats_);
    auto server_transport = TlsTransport::newServer(*server_context, "", &server_stats_);
    Buffer to_server, to_client, client_plain, server_plain;
    absl::Status client_status = client_transport->startHandshake(to_server);
    absl::Status server_status;
    for (int i = 0; i < 20 && (to_server.length() > 0 || to_client.length() > 0); ++i) {
      if (to_server.length() > 0 && server_status.ok()) {
        server_status = server_transport->onNetworkData(to_server, server_plain, to_client);
      }
      to_server.clear();
      if (to_client.length() > 0 && client_status.ok()) {
        client_status = client_transport->onNetworkData(to_client, client_plain, to_server);
      }
      to_client.clear();
    }
    if (client_status.ok() && !client_transport->handshakeComplete()) {
      return absl::UnknownError("handshake did not complete");
    }
    return client_status;
  }

  stats::Registry registry_;
  TlsHandshakeStats client_stats_;
  TlsHandshakeStats server_stats_;
  KeyAndCert root_;
  KeyAndCert intermediate_;
  KeyAndCert client_leaf_;
  KeyAndCert server_leaf_;
};

TEST_F(TlsChainTest, IntermediateInTheChainFileIsSent) {
  absl::Status status = handshake(true);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(client_stats_.succeeded.value(), 1u);
}

TEST_F(TlsChainTest, IntermediateOnlyInTheTrustBundleIsNotSent) {
  absl::Status status = handshake(false);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(client_stats_.succeeded.value(), 0u);
  EXPECT_EQ(client_stats_.failed.value(), 1u);
}

}  // namespace
}  // namespace skiff::tls
