// The tracing settings compiler: defaults, settings, and errors that name their field.

#include "tracing/tracing_config.h"

#include <string>

#include "gtest/gtest.h"

namespace skiff::tracing {
namespace {

TEST(TracingConfigTest, Defaults) {
  auto compiled = TracingConfig::create(config::v1::Tracing(), "http.tracing");
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  EXPECT_TRUE((*compiled)->accept_w3c);
  EXPECT_TRUE((*compiled)->accept_b3);
  EXPECT_TRUE((*compiled)->keep_b3);
  EXPECT_EQ((*compiled)->sampler.ratio(), 0.01);
  EXPECT_EQ((*compiled)->force_sampling_header, "x-skiff-force-trace");
}

TEST(TracingConfigTest, Settings) {
  config::v1::Tracing config;
  config.add_accept(config::v1::Tracing::B3);
  config.mutable_keep_b3()->set_value(false);
  config.mutable_sampling_ratio()->set_value(0.25);
  config.set_force_sampling_header("X-Debug-Trace");
  auto compiled = TracingConfig::create(config, "http.tracing");
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  EXPECT_FALSE((*compiled)->accept_w3c);
  EXPECT_TRUE((*compiled)->accept_b3);
  EXPECT_FALSE((*compiled)->keep_b3);
  EXPECT_EQ((*compiled)->sampler.ratio(), 0.25);
  EXPECT_EQ((*compiled)->force_sampling_header, "x-debug-trace");
}

TEST(TracingConfigTest, ErrorsNameTheField) {
  auto error = [](const config::v1::Tracing& config) {
    return std::string(TracingConfig::create(config, "http.tracing").status().message());
  };
  config::v1::Tracing config;
  config.mutable_sampling_ratio()->set_value(1.5);
  EXPECT_EQ(error(config),
            "http.tracing.sampling_ratio: 1.5 is out of range (0 to 1: 0.01 samples 1% of new "
            "traces, 1 all of them)");
  config.mutable_sampling_ratio()->set_value(-0.1);
  EXPECT_NE(error(config).find("http.tracing.sampling_ratio"), std::string::npos);

  config = config::v1::Tracing();
  config.add_accept(config::v1::Tracing::W3C);
  config.add_accept(config::v1::Tracing::W3C);
  EXPECT_EQ(error(config), "http.tracing.accept[1]: W3C is listed twice");
  config = config::v1::Tracing();
  config.add_accept(config::v1::Tracing::FORMAT_UNSPECIFIED);
  EXPECT_EQ(error(config), "http.tracing.accept[0]: 0 is not a format (W3C or B3)");

  config = config::v1::Tracing();
  config.set_force_sampling_header("x force");
  EXPECT_NE(error(config).find("http.tracing.force_sampling_header: "), std::string::npos);
  config.set_force_sampling_header(":path");
  EXPECT_NE(error(config).find("http.tracing.force_sampling_header: "), std::string::npos);
}

}  // namespace
}  // namespace skiff::tracing
