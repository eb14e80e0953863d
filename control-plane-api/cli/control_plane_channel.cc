#include "control_plane_channel.h"

#include "absl/strings/str_cat.h"

namespace skiff::cli {
namespace {

const char* codeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN_CODE";
  }
}

}  // namespace

std::shared_ptr<grpc::Channel> makeControlPlaneChannel(const std::string& address,
                                                       int channel_index) {
  grpc::ChannelArguments args;
  if (channel_index > 0) {
    // Differing channel args keep gRPC from reusing one subchannel (one TCP connection).
    args.SetInt("skiff.channel_index", channel_index);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  }
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

std::string describeRpcFailure(const std::string& address, const std::string& rpc,
                               const grpc::Status& status) {
  // UNAVAILABLE is what gRPC reports for refused connections and unresolvable names; a call
  // that times out without the server answering means nobody usable is listening either.
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::StrCat("cannot reach skiff-control at ", address, ": ",
                        codeName(status.error_code()), ": ", status.error_message());
  }
  return absl::StrCat("skiff-control at ", address, " answered ", rpc, " with ",
                      codeName(status.error_code()), ": ", status.error_message());
}

}  // namespace skiff::cli
