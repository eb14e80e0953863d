#include "xds/xds_client.h"

namespace skiff::xds {

// Placeholder so skiff-proxy links; the stream arrives in the next commit.
class XdsClient::Impl {};

XdsClient::XdsClient(XdsClientOptions options, PostToMain post, ApplyCallback apply,
                     stats::Registry& registry)
    : impl_(std::make_unique<Impl>()) {}

XdsClient::~XdsClient() = default;

void XdsClient::start(std::function<void()> on_initial_config) {}

}  // namespace skiff::xds
