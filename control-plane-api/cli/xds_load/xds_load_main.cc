// skiff-xds-load: simulates many proxies on ADS streams to skiff-control and measures how fast
// a mesh change reaches (and is ACKed by) all of them.

#include <cstdio>
#include <fstream>
#include <string>
#include <iterator>
#include <thread>
#include <unistd.h>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli_flags.h"
#include "control_plane_channel.h"
#include "load_tracker.h"
#include "simulated_proxy.h"
#include "split_writer.h"

namespace {

constexpr char kUsage[] = R"usage(skiff-xds-load: N simulated proxies on ADS streams to skiff-control
(the fan-out benchmark).

Usage:
  skiff-xds-load [flags]

Each stream has its own node id (NODE_PREFIX + index) and the workload --workload, subscribes
to clusters, endpoints, listeners and routes (wildcard) and ACKs every response. Measured:
  - initial: start -> each stream has ACKed a response of all four types;
  - per round (needs --touch): FILE is rewritten with a traffic policy for --service whose
    default split flips between the first version at 100 and at 0; then file write -> each
    stream has written its ACK of the first response it received after the write.
Prints p50/p99/max per round and a summary. Exit status 0 when every stream got its initial
config and every round completed; 1 otherwise; 2 on a usage error.

Flags:
  --control-plane HOST:PORT  skiff-control's address (default $SKIFF_CONTROL_PLANE, else
                             127.0.0.1:15010).
  --streams N                simulated proxies (default 1000).
  --channels N               gRPC channels (TCP connections) the streams share (default 4).
  --mode delta|sotw          DeltaAggregatedResources or StreamAggregatedResources (default
                             delta).
  --workload NAME            node.workload of every stream (default frontend): pick a workload
                             of the mesh so the streams receive real resources.
  --node-prefix PREFIX       node ids are PREFIX0, PREFIX1, ... (default xds-load-).
  --touch FILE               the mesh file to rewrite each round (a file in skiff-control's
                             --config-dir; its previous content is replaced).
  --service NAME             the service whose split is rewritten (default backend).
  --versions V1,V2[,...]     its versions (default v1,v2).
  --rounds R                 mesh changes (default 10; 0 without --touch).
  --timeout-ms MS            how long the initial config and each round may take (default
                             10000).
  --settle-ms MS             quiet time without any response before the next round, so
                             stragglers and repeated pushes land first (default 300).
  --json FILE                also write the results as JSON to FILE.
  --cpu-pid PID              also report the CPU time (utime+stime, from /proc) process PID
                             (skiff-control, on this machine) used for the initial configs and
                             for the rounds.
  --help                     This text.
)usage";

int usageError(const std::string& message) {
  fprintf(stderr, "skiff-xds-load: %s\nRun skiff-xds-load --help for usage.\n",
          message.c_str());
  return 2;
}

struct Options {
  std::string control_plane = skiff::cli::defaultControlPlane();
  int64_t streams = 1000;
  int64_t channels = 4;
  skiff::cli::StreamKind mode = skiff::cli::StreamKind::kDelta;
  std::string workload = "frontend";
  std::string node_prefix = "xds-load-";
  std::string touch;
  std::string service = "backend";
  std::vector<std::string> versions = {"v1", "v2"};
  int64_t rounds = -1;
  int64_t timeout_ms = 10000;
  int64_t settle_ms = 300;
  std::string json_path;
  int64_t cpu_pid = 0;
};

// utime+stime of `pid` in seconds, from /proc/PID/stat; -1 when unreadable.
double processCpuSeconds(int64_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');  // the command name may contain spaces
  if (pid <= 0 || paren == std::string::npos) return -1;
  std::vector<std::string> fields = absl::StrSplit(stat.substr(paren + 2), ' ');
  // Fields 14 and 15 of the man page; the 3rd field ("state") is fields[0] here.
  int64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return -1;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// 0: parsed; 1: --help printed; 2: usage error printed.
int parseFlags(int argc, char** argv, Options* options) {
  skiff::cli::ArgCursor args(argc, argv);
  std::string error;
  std::string text;
  while (args.next()) {
    bool ok = true;
    if (args.is("--help") || args.is("-h")) {
      fputs(kUsage, stdout);
      return 1;
    } else if (args.is("--control-plane")) {
      ok = args.value(&options->control_plane, &error);
    } else if (args.is("--streams")) {
      ok = args.intValue(1, 100000, &options->streams, &error);
    } else if (args.is("--channels")) {
      ok = args.intValue(1, 1000, &options->channels, &error);
    } else if (args.is("--mode")) {
      ok = args.value(&text, &error);
      if (ok && text == "delta") {
        options->mode = skiff::cli::StreamKind::kDelta;
      } else if (ok && text == "sotw") {
        options->mode = skiff::cli::StreamKind::kStateOfTheWorld;
      } else if (ok) {
        return usageError("--mode needs delta or sotw, not \"" + text + "\"");
      }
    } else if (args.is("--workload")) {
      ok = args.value(&options->workload, &error);
    } else if (args.is("--node-prefix")) {
      ok = args.value(&options->node_prefix, &error);
    } else if (args.is("--touch")) {
      ok = args.value(&options->touch, &error);
    } else if (args.is("--service")) {
      ok = args.value(&options->service, &error);
    } else if (args.is("--versions")) {
      ok = args.value(&text, &error);
      options->versions = absl::StrSplit(text, ',', absl::SkipEmpty());
      if (ok && options->versions.size() < 2) return usageError("--versions needs two or more");
    } else if (args.is("--rounds")) {
      ok = args.intValue(0, 100000, &options->rounds, &error);
    } else if (args.is("--timeout-ms")) {
      ok = args.intValue(1, 3600000, &options->timeout_ms, &error);
    } else if (args.is("--settle-ms")) {
      ok = args.intValue(0, 60000, &options->settle_ms, &error);
    } else if (args.is("--cpu-pid")) {
      ok = args.intValue(1, 1 << 30, &options->cpu_pid, &error);
    } else if (args.is("--json")) {
      ok = args.value(&options->json_path, &error);
    } else {
      return usageError("unexpected argument " + args.arg());
    }
    if (!ok) return usageError(error);
  }
  if (options->rounds < 0) options->rounds = options->touch.empty() ? 0 : 10;
  if (options->rounds > 0 && options->touch.empty()) return usageError("--rounds needs --touch");
  return 0;
}

std::string distributionJson(const skiff::cli::Distribution& d) {
  return absl::StrFormat(R"({"count": %d, "p50_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f})",
                         d.count, d.p50_ms, d.p99_ms, d.max_ms);
}

std::string describe(const skiff::cli::Distribution& d) {
  return absl::StrFormat("p50 %.1f ms  p99 %.1f ms  max %.1f ms", d.p50_ms, d.p99_ms, d.max_ms);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (int parsed = parseFlags(argc, argv, &options); parsed != 0) return parsed == 1 ? 0 : 2;

  using skiff::cli::LoadClock;
  const auto timeout = std::chrono::milliseconds(options.timeout_ms);
  const size_t streams = static_cast<size_t>(options.streams);
  skiff::cli::LoadTracker tracker(streams, skiff::cli::subscribedTypes().size());

  std::vector<std::unique_ptr<skiff::discovery::v1::AggregatedDiscoveryService::Stub>> stubs;
  for (int64_t c = 0; c < options.channels; ++c) {
    stubs.push_back(skiff::discovery::v1::AggregatedDiscoveryService::NewStub(
        skiff::cli::makeControlPlaneChannel(options.control_plane, static_cast<int>(c) + 1)));
  }
  std::vector<std::unique_ptr<skiff::cli::SimulatedProxy>> proxies;
  double cpu_at_start = options.cpu_pid > 0 ? processCpuSeconds(options.cpu_pid) : -1;
  auto start = LoadClock::now();
  for (size_t i = 0; i < streams; ++i) {
    skiff::config::v1::Node node;
    node.set_id(absl::StrCat(options.node_prefix, i));
    node.set_workload(options.workload);
    (*node.mutable_metadata())["generator"] = "skiff-xds-load";
    proxies.push_back(skiff::cli::makeSimulatedProxy(options.mode, *stubs[i % stubs.size()],
                                                     std::move(node), i, tracker));
    proxies.back()->start();
  }

  int exit_code = 0;
  std::string json = absl::StrFormat(
      R"({"streams": %d, "channels": %d, "mode": "%s", "workload": "%s")", options.streams,
      options.channels, options.mode == skiff::cli::StreamKind::kDelta ? "delta" : "sotw",
      options.workload);

  bool initial_ok = tracker.waitInitial(start + timeout);
  auto snap = tracker.snapshot(start);
  auto initial = skiff::cli::summarize(snap.initial_ms);
  printf("initial config: %zu/%zu streams  %s  (resources per stream: %zu..%zu)\n",
         initial.count, streams, describe(initial).c_str(), snap.min_resources,
         snap.max_resources);
  absl::StrAppend(&json, R"(, "initial": )", distributionJson(initial),
                  absl::StrFormat(R"(, "resources_per_stream": [%d, %d])", snap.min_resources,
                                  snap.max_resources));
  if (!initial_ok || snap.closed_streams > 0) {
    std::string reason = snap.first_close_reason.empty() ? "timed out"
                                                         : snap.first_close_reason;
    fprintf(stderr, "skiff-xds-load: %zu streams closed, %zu without a full config at %s: %s\n",
            snap.closed_streams, streams - initial.count, options.control_plane.c_str(),
            reason.c_str());
    if (initial.count == 0) {
      fprintf(stderr, "skiff-xds-load: cannot reach skiff-control at %s (or it sent nothing)\n",
              options.control_plane.c_str());
    }
    exit_code = 1;
  }

  double cpu_after_initial = cpu_at_start >= 0 ? processCpuSeconds(options.cpu_pid) : -1;
  std::vector<double> round_all_acked_ms;
  std::vector<double> every_stream_ms;
  std::string rounds_json;
  for (int64_t round = 0; exit_code == 0 && round < options.rounds; ++round) {
    tracker.waitQuiet(std::chrono::milliseconds(options.settle_ms), LoadClock::now() + timeout);
    tracker.startRound(LoadClock::now());
    auto written = skiff::cli::writeSplitRound(options.touch, options.service, options.versions,
                                               static_cast<int>(round));
    if (!written.ok()) {
      fprintf(stderr, "skiff-xds-load: %s\n", std::string(written.message()).c_str());
      exit_code = 1;
      break;
    }
    bool complete = tracker.waitRound(LoadClock::now() + timeout);
    // Responses that trail the last ACK (a second push) are counted after the settle time.
    tracker.waitQuiet(std::chrono::milliseconds(options.settle_ms), LoadClock::now() + timeout);
    auto round_snap = tracker.snapshot(start);
    auto dist = skiff::cli::summarize(round_snap.round_ms);
    printf("round %3lld: %zu/%zu ACKed  %s  versions %s%s\n", static_cast<long long>(round + 1),
           dist.count, round_snap.open_streams, describe(dist).c_str(),
           absl::StrJoin(round_snap.round_versions, ",").c_str(),
           round_snap.round_extra_responses > 0
               ? absl::StrCat("  (+", round_snap.round_extra_responses, " extra responses)").c_str()
               : "");
    fflush(stdout);
    absl::StrAppend(&rounds_json, round == 0 ? "" : ", ", "{\"acked\": ", distributionJson(dist),
                    ", \"extra_responses\": ", round_snap.round_extra_responses, "}");
    if (!complete) {
      fprintf(stderr, "skiff-xds-load: round %lld: %zu of %zu open streams did not ACK a new "
              "response within %lld ms\n", static_cast<long long>(round + 1),
              round_snap.open_streams - dist.count, round_snap.open_streams,
              static_cast<long long>(options.timeout_ms));
      exit_code = 1;
      break;
    }
    round_all_acked_ms.push_back(dist.max_ms);
    every_stream_ms.insert(every_stream_ms.end(), round_snap.round_ms.begin(),
                           round_snap.round_ms.end());
  }

  if (cpu_after_initial >= 0) {
    double cpu_end = processCpuSeconds(options.cpu_pid);
    double initial_cpu = cpu_after_initial - cpu_at_start;
    double rounds_cpu = cpu_end - cpu_after_initial;
    printf("cpu of pid %lld: %.2f s for the initial configs, %.2f s for %zu rounds\n",
           static_cast<long long>(options.cpu_pid), initial_cpu, rounds_cpu,
           round_all_acked_ms.size());
    absl::StrAppend(&json, absl::StrFormat(R"(, "cpu_initial_s": %.3f, "cpu_rounds_s": %.3f)",
                                           initial_cpu, rounds_cpu));
  }
  auto all_acked = skiff::cli::summarize(round_all_acked_ms);
  auto per_stream = skiff::cli::summarize(every_stream_ms);
  if (options.rounds > 0) {
    printf("summary: %zu rounds, write -> all %zu streams ACKed: %s\n", all_acked.count,
           streams, describe(all_acked).c_str());
    printf("         write -> one stream ACKed (all rounds): %s\n", describe(per_stream).c_str());
  }
  absl::StrAppend(&json, R"(, "rounds": [)", rounds_json, R"(], "all_acked": )",
                  distributionJson(all_acked), R"(, "per_stream": )",
                  distributionJson(per_stream), ", \"ok\": ", exit_code == 0 ? "true" : "false",
                  "}\n");
  if (!options.json_path.empty()) {
    std::ofstream(options.json_path) << json;
  }

  for (auto& proxy : proxies) proxy->cancel();
  for (auto& proxy : proxies) proxy->waitDone();
  return exit_code;
}
