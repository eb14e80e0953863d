#pragma once

// How the CLI tools reach skiff-control: a plain-text gRPC channel, and one wording for a
// failed call so every tool tells "not running" apart from "answered with an error".

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

namespace skiff::cli {

// `channel_index` > 0 gives a channel its own TCP connection (gRPC would otherwise share one
// subchannel between channels to the same address).
std::shared_ptr<grpc::Channel> makeControlPlaneChannel(const std::string& address,
                                                       int channel_index = 0);

// "cannot reach skiff-control at ADDR: ..." for transport failures, otherwise
// "skiff-control at ADDR answered RPC with CODE: message".
std::string describeRpcFailure(const std::string& address, const std::string& rpc,
                               const grpc::Status& status);

}  // namespace skiff::cli
