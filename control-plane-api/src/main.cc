// skiff-control: flags, then the control plane until SIGTERM/SIGINT. The only code not linked
// into tests.

#include <signal.h>

#include <cstdio>
#include <string>

#include "cli_flags.h"
#include "common/logging.h"
#include "control_plane.h"

namespace {

constexpr char kUsage[] = R"(skiff-control: the Skiff control plane

Usage:
  skiff-control --config-dir DIR [--listen HOST:PORT] [--debounce MS] [--log-level LEVEL]
  skiff-control --help

Flags:
  --config-dir DIR     The mesh: every *.yaml / *.yml file of DIR (schema skiff.mesh.v1.MeshFile,
                       proto/skiff/mesh/v1/mesh.proto), merged in file-name order. Watched: a
                       valid change is pushed to the proxies it concerns; an invalid one is
                       refused with "FILE: field.path: reason" and the last good mesh stays.
                       An invalid mesh at startup exits 1.
  --listen HOST:PORT   gRPC address of the discovery service (ADS, state of the world and
                       delta) and the status API (default 127.0.0.1:15010). Port 0: any.
  --debounce MS        Quiet time after the last file event before reloading (default 20).
  --log-level LEVEL    trace, debug, info, warn, error or off (default: info). Logs go to stderr.
  --help               This text.

Signals: SIGTERM or SIGINT close every stream and exit 0.
Protocol and translation rules: docs/xds.md.
)";

int usageError(const std::string& message) {
  fprintf(stderr, "skiff-control: %s\n\n%s", message.c_str(), kUsage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  skiff::control::ControlPlaneOptions options;
  skiff::cli::ArgCursor args(argc, argv);
  std::string error;
  while (args.next()) {
    std::string value;
    if (args.is("--help") || args.is("-h")) {
      fputs(kUsage, stdout);
      return 0;
    } else if (args.is("--config-dir")) {
      if (!args.value(&options.config_dir, &error)) return usageError(error);
    } else if (args.is("--listen")) {
      if (!args.value(&options.listen, &error)) return usageError(error);
    } else if (args.is("--debounce")) {
      int64_t ms = 0;
      if (!args.intValue(0, 60000, &ms, &error)) return usageError(error);
      options.debounce = std::chrono::milliseconds(ms);
    } else if (args.is("--log-level")) {
      skiff::log::Level level;
      if (!args.value(&value, &error)) return usageError(error);
      if (!skiff::log::parseLevel(value, &level)) {
        return usageError("--log-level needs one of trace, debug, info, warn, error, off");
      }
      skiff::log::setLevel(level);
    } else {
      return usageError("unknown flag " + args.arg());
    }
  }
  if (options.config_dir.empty()) return usageError("--config-dir is required");

  // Signals are taken synchronously by this thread; every other thread (gRPC's, the watcher)
  // inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  skiff::control::ControlPlane control_plane(options);
  absl::Status status = control_plane.start();
  if (!status.ok()) {
    fprintf(stderr, "skiff-control: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  int received = 0;
  sigwait(&signals, &received);
  SKIFF_LOG(kInfo, "signal %d: shutting down", received);
  control_plane.stop();
  return 0;
}
