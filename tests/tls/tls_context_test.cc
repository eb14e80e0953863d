#include "tls/tls_context.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "test_certificates.h"

namespace skiff::tls {
namespace {

using testing::bundleFor;
using testing::makeCa;
using testing::makeLeaf;

constexpr char kId[] = "spiffe://test.local/ns/default/sa/web";

TEST(TlsContext, BuildsFromABundle) {
  auto ca = makeCa("ca");
  auto leaf = makeLeaf(ca, kId);
  auto context = TlsContext::create(bundleFor(leaf, ca));
  ASSERT_TRUE(context.ok()) << context.status();
  EXPECT_EQ((*context)->identity(), kId);
  EXPECT_NE((*context)->serverContext(), nullptr);
  EXPECT_NE((*context)->clientContext(), nullptr);
  EXPECT_GT((*context)->notAfter(), std::chrono::system_clock::now());
  EXPECT_FALSE((*context)->serialHex().empty());
  // TLS 1.3 only, both ways.
  EXPECT_EQ(SSL_CTX_get_min_proto_version((*context)->serverContext()), TLS1_3_VERSION);
  EXPECT_EQ(SSL_CTX_get_min_proto_version((*context)->clientContext()), TLS1_3_VERSION);
  EXPECT_EQ(SSL_CTX_get_verify_mode((*context)->serverContext()),
            SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
}

TEST(TlsContext, KeyThatDoesNotMatchIsAnError) {
  auto ca = makeCa("ca");
  auto leaf = makeLeaf(ca, kId);
  auto other = makeLeaf(ca, kId);
  auto bundle = bundleFor(leaf, ca);
  bundle.private_key_pem = other.keyPem();
  auto context = TlsContext::create(bundle);
  ASSERT_FALSE(context.ok());
  EXPECT_NE(context.status().message().find("does not match"), std::string::npos)
      << context.status();
}

TEST(TlsContext, GarbageIsAnError) {
  auto ca = makeCa("ca");
  auto leaf = makeLeaf(ca, kId);
  auto bundle = bundleFor(leaf, ca);
  bundle.trust_bundle_pem = "not a certificate";
  EXPECT_FALSE(TlsContext::create(bundle).ok());
  bundle = bundleFor(leaf, ca);
  bundle.private_key_pem = "";
  EXPECT_FALSE(TlsContext::create(bundle).ok());
  bundle = bundleFor(leaf, ca);
  bundle.certificate_chain_pem = "";
  EXPECT_FALSE(TlsContext::create(bundle).ok());
}

TEST(TlsContext, LeafWithoutSpiffeIdIsAnError) {
  auto ca = makeCa("ca");
  auto leaf = makeLeaf(ca, "");
  auto context = TlsContext::create(bundleFor(leaf, ca));
  ASSERT_FALSE(context.ok());
  EXPECT_NE(context.status().message().find("spiffe"), std::string::npos);
}

TEST(TlsContext, LoadsStaticCertificateFiles) {
  auto ca = makeCa("ca");
  auto leaf = makeLeaf(ca, kId);
  std::string dir = ::testing::TempDir();
  auto write = [&](const std::string& name, const std::string& text) {
    std::string path = dir + "/" + name;
    std::ofstream(path) << text;
    return path;
  };
  config::v1::StaticCertificate files;
  files.set_certificate_chain_file(write("chain.pem", leaf.certPem()));
  files.set_private_key_file(write("key.pem", leaf.keyPem()));
  files.set_trust_bundle_file(write("ca.pem", ca.certPem()));
  auto bundle = loadStaticCertificate(files);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_EQ(bundle->identity, kId);
  EXPECT_TRUE(TlsContext::create(*bundle).ok());

  files.set_private_key_file(dir + "/missing.pem");
  auto missing = loadStaticCertificate(files);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("private_key_file"), std::string::npos);
}

TEST(TlsContext, AlpnWireFormat) {
  google::protobuf::RepeatedPtrField<std::string> names;
  *names.Add() = "h2";
  *names.Add() = "http/1.1";
  auto wire = alpnWireFormat(names);
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(*wire, std::string("\x02h2\x08http/1.1"));
  *names.Add() = "";
  EXPECT_FALSE(alpnWireFormat(names).ok());
}

}  // namespace
}  // namespace skiff::tls
