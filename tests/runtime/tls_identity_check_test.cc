#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/server.h"

namespace skiff::server {
namespace {

using ::testing::HasSubstr;

TEST(CheckNoTlsWithoutIdentity, DynamicTlsResourcesNeedAnIdentity) {
  xds::DynamicSnapshot snapshot;
  snapshot.listeners["plain"].set_name("plain");
  snapshot.clusters["plain"].set_name("plain");
  EXPECT_TRUE(checkNoTlsWithoutIdentity(snapshot).ok());

  snapshot.clusters["reviews"].mutable_tls()->add_allowed_identities("spiffe://a/ns/b/sa/c");
  absl::Status status = checkNoTlsWithoutIdentity(snapshot);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("cluster \"reviews\": tls: needs the bootstrap's identity"));

  snapshot.clusters.erase("reviews");
  snapshot.listeners["inbound"].mutable_tls()->set_mode(config::v1::PERMISSIVE);
  status = checkNoTlsWithoutIdentity(snapshot);
  EXPECT_THAT(status.message(), HasSubstr("listener \"inbound\": tls: needs"));
}

}  // namespace
}  // namespace skiff::server
