#include "status_service.h"

#include "absl/strings/str_format.h"

namespace skiff::control {

absl::StatusOr<control::v1::ConfigDumpResponse> configDump(DiscoveryServer& server,
                                                           const std::string& node) {
  std::shared_ptr<const MeshSnapshot> snapshot = server.current();
  config::v1::Node target;
  if (std::optional<config::v1::Node> connected = server.connectedNode(node)) {
    target = *connected;
  } else {
    // Not connected: an instance's node id or, failing that, a workload name.
    target.set_id(node);
    target.set_workload(node);
  }
  std::shared_ptr<const NodeResources> resources = snapshot->resourcesFor(target);
  if (resources->workload.empty()) {
    return absl::NotFoundError(absl::StrFormat(
        "\"%s\" is neither a connected proxy, an instance's node id nor a workload", node));
  }
  control::v1::ConfigDumpResponse response;
  response.set_mesh_version(snapshot->version());
  for (const std::string& type_url : kPushOrder) {
    for (const auto& [name, resource] : resources->type(type_url).by_name) {
      *response.add_resources() = resource;
    }
  }
  return response;
}

grpc::ServerUnaryReactor* StatusService::ListProxies(grpc::CallbackServerContext* context,
                                                     const control::v1::ListProxiesRequest*,
                                                     control::v1::ListProxiesResponse* response) {
  response->set_mesh_version(server_.current()->version());
  response->set_last_mesh_error(server_.meshError());
  for (control::v1::ProxyStatus& proxy : server_.proxies()) {
    *response->add_proxies() = std::move(proxy);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* StatusService::ConfigDump(grpc::CallbackServerContext* context,
                                                    const control::v1::ConfigDumpRequest* request,
                                                    control::v1::ConfigDumpResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<control::v1::ConfigDumpResponse> dump = configDump(server_, request->node());
  if (!dump.ok()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, std::string(dump.status().message())));
  } else {
    *response = std::move(*dump);
    reactor->Finish(grpc::Status::OK);
  }
  return reactor;
}

}  // namespace skiff::control
