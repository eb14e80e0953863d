#include "xds/resource_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace skiff::xds {
namespace {

using ::testing::HasSubstr;

IncomingResource cluster(const std::string& name, const std::string& version,
                         bool named = true) {
  config::v1::Cluster message;
  message.set_name(name);
  message.set_type(config::v1::Cluster::EDS);
  message.mutable_connect_timeout()->set_seconds(1);
  IncomingResource in;
  if (named) in.name = name;
  in.version = version;
  in.resource.PackFrom(message);
  return in;
}

// The fuzzer's crash (tests/fuzz/corpus/xds/crash-7b0ed4bf-duplicate-name): the second copy of
// a name was destroyed while the error message still read its name. Under ASan this test is
// the regression check; everywhere it checks the NACK names the resource.
TEST(ResourceSetTest, ResourceSentTwiceInOneResponseIsRefusedByName) {
  ResourceSet set;
  absl::Status status = set.update(kClusterType, {cluster("outbound|backend|v1", "a1"),
                                                  cluster("outbound|backend|v1", "a2")},
                                   {}, /*replace_all=*/false);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("resource \"outbound|backend|v1\": sent twice in one response"));
  EXPECT_TRUE(set.versions(kClusterType).empty());
}

TEST(ResourceSetTest, DuplicateInStateOfTheWorldLeavesHeldSetUntouched) {
  ResourceSet set;
  ASSERT_TRUE(set.update(kClusterType, {cluster("a", "1", false)}, {}, true).ok());
  absl::Status status =
      set.update(kClusterType, {cluster("b", "2", false), cluster("b", "3", false)}, {}, true);
  EXPECT_THAT(status.message(), HasSubstr("resource \"b\": sent twice in one response"));
  EXPECT_EQ(set.versions(kClusterType), (std::map<std::string, std::string>{{"a", "1"}}));
}

TEST(ResourceSetTest, DistinctNamesAreAccepted) {
  ResourceSet set;
  ASSERT_TRUE(set.update(kClusterType, {cluster("a", "1"), cluster("b", "2")}, {}, false).ok());
  EXPECT_EQ(set.versions(kClusterType),
            (std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}}));
}

}  // namespace
}  // namespace skiff::xds
