// skiffctl: the operator's view of skiff-control through its status API (ControlStatus).

#include <chrono>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli_flags.h"
#include "control_plane_channel.h"
#include "skiff/control/v1/status.grpc.pb.h"
#include "status_report.h"

namespace {

constexpr char kUsage[] = R"usage(skiffctl: inspect skiff-control, the Skiff control plane.

Usage:
  skiffctl [--control-plane HOST:PORT] [--output text|json] status
  skiffctl [--control-plane HOST:PORT] config-dump NODE
  skiffctl --help

Commands:
  status             The mesh version skiff-control serves, its last mesh error (a rejected
                     config file: file, field, reason) and one row per connected proxy: node,
                     workload, stream type (DELTA or SOTW), whether it has ACKed the current
                     config of every type (SYNCED), and per resource type the version it
                     ACKed (first 8 characters), "NACK(v)" while it rejects version v,
                     "sent(v)" while v awaits its answer. The full text of every NACK follows
                     the table. --output json prints the whole ListProxiesResponse instead,
                     with full versions.
  config-dump NODE   The resources NODE receives (a connected proxy's node id, or a workload
                     name: what a proxy of that workload would receive), as JSON in the
                     protobuf JSON mapping with .proto field names; each resource is expanded
                     with its "@type".

Flags (before or after the command):
  --control-plane HOST:PORT  skiff-control's gRPC address (default: $SKIFF_CONTROL_PLANE, else
                             127.0.0.1:15010).
  --output text|json         status output format (default text). config-dump is always JSON.
  --help, -h                 This text.

Every call has a 5 s deadline. Exit status: 0 on success, 1 when skiff-control cannot be
reached or refuses the call (the reason is printed), 2 on a usage error.
)usage";

constexpr auto kCallDeadline = std::chrono::seconds(5);

void printJson(const std::string& json) {
  fputs(json.c_str(), stdout);
  if (json.empty() || json.back() != '\n') fputs("\n", stdout);
}

int usageError(const std::string& message) {
  fprintf(stderr, "skiffctl: %s\nRun skiffctl --help for usage.\n", message.c_str());
  return 2;
}

int fail(const std::string& message) {
  fprintf(stderr, "skiffctl: %s\n", message.c_str());
  return 1;
}

void setDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() + kCallDeadline);
}

int runStatus(skiff::control::v1::ControlStatus::Stub& stub, const std::string& address,
              bool json) {
  grpc::ClientContext context;
  setDeadline(&context);
  skiff::control::v1::ListProxiesResponse response;
  grpc::Status status = stub.ListProxies(&context, {}, &response);
  if (!status.ok()) return fail(skiff::cli::describeRpcFailure(address, "ListProxies", status));
  if (!json) {
    fputs(skiff::cli::renderStatusText(response).c_str(), stdout);
    return 0;
  }
  auto text = skiff::cli::messageToJson(response);
  if (!text.ok()) return fail(std::string(text.status().message()));
  printJson(*text);
  return 0;
}

int runConfigDump(skiff::control::v1::ControlStatus::Stub& stub, const std::string& address,
                  const std::string& node) {
  grpc::ClientContext context;
  setDeadline(&context);
  skiff::control::v1::ConfigDumpRequest request;
  request.set_node(node);
  skiff::control::v1::ConfigDumpResponse response;
  grpc::Status status = stub.ConfigDump(&context, request, &response);
  if (!status.ok()) return fail(skiff::cli::describeRpcFailure(address, "ConfigDump", status));
  auto text = skiff::cli::messageToJson(response);
  if (!text.ok()) return fail(std::string(text.status().message()));
  printJson(*text);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  skiff::cli::linkResourceTypes();
  std::string address = skiff::cli::defaultControlPlane();
  std::string output = "text";
  std::vector<std::string> positional;
  std::string error;

  skiff::cli::ArgCursor args(argc, argv);
  while (args.next()) {
    if (!args.isFlag()) {
      positional.push_back(args.arg());
    } else if (args.is("--help") || args.is("-h")) {
      fputs(kUsage, stdout);
      return 0;
    } else if (args.is("--control-plane")) {
      if (!args.value(&address, &error)) return usageError(error);
      if (address.empty()) return usageError("--control-plane needs HOST:PORT");
    } else if (args.is("--output") || args.is("-o")) {
      if (!args.value(&output, &error)) return usageError(error);
      if (output != "text" && output != "json") {
        return usageError("--output needs text or json, not \"" + output + "\"");
      }
    } else {
      return usageError("unknown flag " + args.arg());
    }
  }
  if (positional.empty()) return usageError("missing command (status or config-dump NODE)");

  const std::string& command = positional[0];
  auto stub = skiff::control::v1::ControlStatus::NewStub(
      skiff::cli::makeControlPlaneChannel(address));
  if (command == "status") {
    if (positional.size() != 1) return usageError("status takes no arguments");
    return runStatus(*stub, address, output == "json");
  }
  if (command == "config-dump") {
    if (positional.size() != 2) return usageError("config-dump needs exactly one NODE");
    return runConfigDump(*stub, address, positional[1]);
  }
  return usageError("unknown command \"" + command + "\" (status or config-dump NODE)");
}
