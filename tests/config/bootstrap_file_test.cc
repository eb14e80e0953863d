// loadBootstrapFile: the shipped examples load, and errors carry the file name.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/bootstrap_loader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::config {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// The source tree: $SKIFF_SOURCE_DIR, else the nearest ancestor of the working directory or of
// the test binary that holds examples/.
std::string sourceDir() {
  if (const char* env = std::getenv("SKIFF_SOURCE_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code error;
  for (fs::path start : {fs::current_path(error), fs::read_symlink("/proc/self/exe", error)}) {
    for (fs::path dir = start; !dir.empty(); dir = dir.parent_path()) {
      if (fs::exists(dir / "examples" / "static-http.yaml", error)) return dir.string();
      if (dir == dir.root_path()) break;
    }
  }
  return "";
}

std::string example(const std::string& name) {
  const std::string root = sourceDir();
  EXPECT_FALSE(root.empty()) << "set SKIFF_SOURCE_DIR to the repository root";
  return (fs::path(root) / "examples" / name).string();
}

std::string writeTemp(const std::string& name, const std::string& contents) {
  const std::string path = (fs::path(::testing::TempDir()) / name).string();
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
  return path;
}

TEST(BootstrapFileTest, StaticHttpExampleLoads) {
  absl::StatusOr<v1::Bootstrap> bootstrap = loadBootstrapFile(example("static-http.yaml"));
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  EXPECT_EQ(bootstrap->admin().address().address(), "127.0.0.1");
  EXPECT_EQ(bootstrap->admin().address().port(), 15000u);
  ASSERT_EQ(bootstrap->static_resources().listeners_size(), 1);
  const v1::Listener& listener = bootstrap->static_resources().listeners(0);
  EXPECT_EQ(listener.name(), "http");
  EXPECT_EQ(listener.address().address(), "127.0.0.1");
  EXPECT_EQ(listener.address().port(), 10000u);
  ASSERT_TRUE(listener.has_http());
  EXPECT_FALSE(listener.http().has_access_log());  // shipped commented out
  const v1::Route& route = listener.http().route_config().virtual_hosts(0).routes(0);
  EXPECT_EQ(route.match().prefix(), "/");
  EXPECT_EQ(route.route().cluster(), "backend");
  EXPECT_EQ(route.route().timeout().seconds(), 15);
  const v1::Cluster& cluster = bootstrap->static_resources().clusters(0);
  EXPECT_EQ(cluster.name(), "backend");
  EXPECT_EQ(cluster.endpoints(0).address().address(), "127.0.0.1");
  EXPECT_EQ(cluster.endpoints(0).address().port(), 18080u);
}

TEST(BootstrapFileTest, StaticTcpExampleLoads) {
  absl::StatusOr<v1::Bootstrap> bootstrap = loadBootstrapFile(example("static-tcp.yaml"));
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  EXPECT_EQ(bootstrap->admin().address().port(), 15000u);
  const v1::Listener& listener = bootstrap->static_resources().listeners(0);
  EXPECT_EQ(listener.address().address(), "127.0.0.1");
  EXPECT_EQ(listener.address().port(), 10002u);
  ASSERT_TRUE(listener.has_tcp_proxy());
  const v1::Cluster& cluster = bootstrap->static_resources().clusters(0);
  EXPECT_EQ(listener.tcp_proxy().cluster(), cluster.name());
  EXPECT_EQ(cluster.endpoints(0).address().address(), "127.0.0.1");
  EXPECT_EQ(cluster.endpoints(0).address().port(), 18082u);
}

TEST(BootstrapFileTest, MissingFileIsNotFound) {
  const std::string path = (fs::path(::testing::TempDir()) / "no-such-skiff.yaml").string();
  absl::StatusOr<v1::Bootstrap> bootstrap = loadBootstrapFile(path);
  EXPECT_EQ(bootstrap.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(bootstrap.status().message()), StartsWith(path + ": "));
}

TEST(BootstrapFileTest, DirectoryIsRejected) {
  absl::StatusOr<v1::Bootstrap> bootstrap = loadBootstrapFile(::testing::TempDir());
  EXPECT_EQ(bootstrap.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bootstrap.status().message()), HasSubstr("is a directory"));
}

TEST(BootstrapFileTest, ConversionErrorsArePrefixedWithTheFileName) {
  const std::string path = writeTemp("skiff-bad-enum.yaml",
                                     "static_resources:\n  clusters:\n    - lb_policy: FASTEST\n");
  absl::StatusOr<v1::Bootstrap> bootstrap = loadBootstrapFile(path);
  EXPECT_EQ(bootstrap.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bootstrap.status().message()),
              StartsWith(path + ": static_resources.clusters[0].lb_policy: unknown value "
                                "\"FASTEST\""));
}

TEST(BootstrapFileTest, ValidationErrorsArePrefixedWithTheFileName) {
  const std::string path =
      writeTemp("skiff-bad-cluster.yaml", "static_resources:\n  clusters:\n    - name: a\n");
  absl::StatusOr<v1::Bootstrap> bootstrap = loadBootstrapFile(path);
  EXPECT_EQ(std::string(bootstrap.status().message()),
            path + ": static_resources.clusters[0].endpoints: at least one endpoint is required");
}

TEST(BootstrapFileTest, SyntaxAndEmptyFileErrors) {
  const std::string broken = writeTemp("skiff-syntax.yaml", "admin:\n  address: {address: \"x\n");
  EXPECT_THAT(std::string(loadBootstrapFile(broken).status().message()),
              StartsWith(broken + ": line "));
  const std::string empty = writeTemp("skiff-empty.yaml", "");
  EXPECT_EQ(std::string(loadBootstrapFile(empty).status().message()),
            empty + ": the configuration is empty (expected a map of fields)");
}

}  // namespace
}  // namespace skiff::config
