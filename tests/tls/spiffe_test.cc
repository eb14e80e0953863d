#include "tls/spiffe.h"

#include <gtest/gtest.h>

#include <string>

#include "test_certificates.h"

namespace skiff::tls {
namespace {

TEST(SpiffeId, ParsesNamespaceAndServiceAccount) {
  auto id = parseSpiffeId("spiffe://cluster.local/ns/shop/sa/cart");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->trust_domain, "cluster.local");
  EXPECT_EQ(id->path, "/ns/shop/sa/cart");
  EXPECT_EQ(id->namespace_name, "shop");
  EXPECT_EQ(id->service_account, "cart");
  EXPECT_EQ(id->uri, "spiffe://cluster.local/ns/shop/sa/cart");
}

TEST(SpiffeId, OtherPathsHaveNoNamespace) {
  auto id = parseSpiffeId("spiffe://example.org/workload/db-1");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->path, "/workload/db-1");
  EXPECT_EQ(id->namespace_name, "");
  EXPECT_EQ(id->service_account, "");
  auto domain_only = parseSpiffeId("spiffe://example.org");
  ASSERT_TRUE(domain_only.ok());
  EXPECT_EQ(domain_only->path, "");
}

TEST(SpiffeId, RejectsWhatTheSpecForbids) {
  for (const char* bad : {
           "",
           "https://example.org/ns/a/sa/b",         // scheme
           "SPIFFE://example.org/x",                // scheme must be lower case
           "spiffe://",                             // no trust domain
           "spiffe:///ns/a",                        // no trust domain
           "spiffe://Example.org/x",                // upper-case trust domain
           "spiffe://example.org:8080/x",           // port
           "spiffe://user@example.org/x",           // userinfo
           "spiffe://example.org/ns//sa/b",         // empty segment
           "spiffe://example.org/ns/a/",            // trailing slash
           "spiffe://example.org/ns/a?x=1",         // query
           "spiffe://example.org/ns/a#frag",        // fragment
           "spiffe://example.org/ns/./sa",          // relative segment
           "spiffe://example.org/ns/%41",           // percent-encoding is not allowed
           "spiffe://example.org/ns/a b",           // space
       }) {
    EXPECT_FALSE(parseSpiffeId(bad).ok()) << bad;
  }
}

TEST(SpiffeId, LengthLimit) {
  std::string prefix = "spiffe://example.org/";
  std::string at_limit = prefix + std::string(2048 - prefix.size(), 'a');
  EXPECT_TRUE(parseSpiffeId(at_limit).ok());
  EXPECT_FALSE(parseSpiffeId(at_limit + "a").ok());
}

TEST(SpiffeId, FromCertificate) {
  auto ca = testing::makeCa("ca");
  auto with = testing::makeLeaf(ca, "spiffe://example.org/ns/a/sa/b");
  auto without = testing::makeLeaf(ca, "");
  auto https = testing::makeLeaf(ca, "https://example.org/");
  EXPECT_EQ(spiffeUriFromCertificate(with.cert), "spiffe://example.org/ns/a/sa/b");
  EXPECT_EQ(spiffeUriFromCertificate(without.cert), "");
  EXPECT_EQ(spiffeUriFromCertificate(https.cert), "");
  EXPECT_EQ(spiffeUriFromCertificate(nullptr), "");
}

}  // namespace
}  // namespace skiff::tls
