#include "xds/xds_client.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "common/logging.h"
#include "config/duration.h"
#include "grpcpp/grpcpp.h"
#include "skiff/discovery/v1/discovery.grpc.pb.h"
#include "xds/resource_set.h"

namespace skiff::xds {
namespace {

namespace discovery = ::skiff::discovery::v1;

constexpr int kInvalidArgument = 3;  // google.rpc.Code, the error_detail of a NACK

// What the stream thread, the tasks it posts to the main thread and the destructor share.
// Posted tasks hold it by shared_ptr: a task that runs after the client is gone finds
// `stopped` and does nothing.
struct Shared {
  std::mutex mutex;
  std::condition_variable wake;
  bool stopped = false;                          // guarded by mutex
  grpc::ClientContext* active_call = nullptr;    // guarded by mutex
  std::optional<absl::Status> apply_result;      // guarded by mutex

  // Main thread only.
  XdsClient::ApplyCallback apply;
  std::function<void()> on_initial_config;
  std::set<std::string> applied_types;
  bool initial_config_done = false;

  // Created on the main thread; counters are only incremented there.
  stats::Gauge* connected = nullptr;
  stats::Counter* reconnects = nullptr;
  std::map<std::string, std::pair<stats::Counter*, stats::Counter*>> updates;  // ack, nack

  bool isStopped() {
    std::lock_guard<std::mutex> lock(mutex);
    return stopped;
  }
};

}  // namespace

class XdsClient::Impl {
 public:
  Impl(XdsClientOptions options, PostToMain post, ApplyCallback apply, stats::Registry& registry)
      : options_(std::move(options)), post_(std::move(post)), shared_(std::make_shared<Shared>()) {
    shared_->apply = std::move(apply);
    shared_->connected = &registry.gauge(
        "skiff_xds_connected", "1 while the discovery stream to the control plane is up", {});
    shared_->reconnects = &registry.counter(
        "skiff_xds_reconnects_total", "Discovery streams opened again after one ended", {});
    for (const std::string& type : subscriptionOrder()) {
      auto counter = [&](const char* result) {
        return &registry.counter("skiff_xds_updates_total",
                                 "Discovery responses, by resource type and ACK or NACK",
                                 {{"type", shortTypeName(type)}, {"result", result}});
      };
      shared_->updates[type] = {counter("ack"), counter("nack")};
    }
    const auto& dynamic = options_.config;
    base_interval_ = config::millisecondsOr(dynamic.has_reconnect_base_interval(),
                                            dynamic.reconnect_base_interval(),
                                            kDefaultReconnectBaseInterval);
    max_interval_ = std::max(base_interval_,
                             config::millisecondsOr(dynamic.has_reconnect_max_interval(),
                                                    dynamic.reconnect_max_interval(),
                                                    kDefaultReconnectMaxInterval));
    use_delta_ = dynamic.api_type() == config::v1::DynamicResources::DELTA;
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(shared_->mutex);
      shared_->stopped = true;
      if (shared_->active_call != nullptr) shared_->active_call->TryCancel();
      shared_->wake.notify_all();
    }
    if (thread_.joinable()) thread_.join();
    if (connected_) shared_->connected->sub();
  }

  void start(std::function<void()> on_initial_config) {
    shared_->on_initial_config = std::move(on_initial_config);
    // The channel's own reconnect backoff (1s initial, 120s max by default) would stack on
    // ours and make a returning control plane wait; align it with the configured interval.
    grpc::ChannelArguments arguments;
    arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, base_interval_.count());
    arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, base_interval_.count());
    arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_interval_.count());
    channel_ = grpc::CreateCustomChannel(options_.config.ads_address(),
                                         grpc::InsecureChannelCredentials(), arguments);
    stub_ = discovery::AggregatedDiscoveryService::NewStub(channel_);
    thread_ = std::thread([this] { run(); });
  }

 private:
  // The stream thread: one stream at a time, backoff between them.
  void run() {
    std::mt19937_64 random(std::random_device{}());
    int failures = 0;
    bool reconnect = false;
    while (!shared_->isStopped()) {
      if (reconnect) post([shared = shared_] { shared->reconnects->inc(); });
      reconnect = true;
      SKIFF_LOG(kInfo, "xds: connecting to %s (%s)", options_.config.ads_address(),
                use_delta_ ? "delta" : "state of the world");
      got_response_ = false;
      grpc::Status status =
          use_delta_
              ? runStream<discovery::DeltaDiscoveryRequest, discovery::DeltaDiscoveryResponse>()
              : runStream<discovery::DiscoveryRequest, discovery::DiscoveryResponse>();
      setConnected(false);
      if (shared_->isStopped()) break;
      if (use_delta_ && status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
        SKIFF_LOG(kWarn, "xds: %s has no delta discovery; falling back to state of the world",
                  options_.config.ads_address());
        use_delta_ = false;
        reconnect = false;
        continue;  // not a failure of the control plane: no backoff
      }
      if (got_response_) failures = 0;
      // Full jitter: a uniform wait in [0, min(max, base * 2^failures)], so proxies that lost
      // the same control plane do not come back in one wave.
      const int64_t ceiling = std::min<int64_t>(
          max_interval_.count(), base_interval_.count() << std::min(failures, 20));
      ++failures;
      const auto wait = std::chrono::milliseconds(
          std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(ceiling, 0))(random));
      SKIFF_LOG(kWarn, "xds: stream to %s ended (%s: %s); retrying in %dms",
                options_.config.ads_address(), statusCodeName(status.error_code()),
                status.error_message(), wait.count());
      std::unique_lock<std::mutex> lock(shared_->mutex);
      shared_->wake.wait_for(lock, wait, [&] { return shared_->stopped; });
    }
  }

  static const char* statusCodeName(grpc::StatusCode code) {
    switch (code) {
      case grpc::StatusCode::OK: return "OK";
      case grpc::StatusCode::CANCELLED: return "CANCELLED";
      case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
      case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
      case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
      case grpc::StatusCode::INTERNAL: return "INTERNAL";
      default: return "ERROR";
    }
  }

  // Registers the call so the destructor can cancel it; false when already stopped.
  bool registerCall(grpc::ClientContext* context) {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    if (shared_->stopped) return false;
    shared_->active_call = context;
    return true;
  }
  void unregisterCall() {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->active_call = nullptr;
  }

  // What a response asks for, whichever protocol carried it.
  struct Update {
    std::string type_url;
    std::string version;
    std::vector<IncomingResource> resources;
    std::vector<std::string> removed;
    bool replace_all = false;  // SotW: the response is the type's whole set
  };

  // The two protocols differ only in their envelopes; these overloads are the differences.
  auto open(grpc::ClientContext* context, discovery::DeltaDiscoveryRequest*) {
    return stub_->DeltaAggregatedResources(context);
  }
  auto open(grpc::ClientContext* context, discovery::DiscoveryRequest*) {
    return stub_->StreamAggregatedResources(context);
  }
  // After a reconnect, what the proxy holds: delta names each resource's version (so unchanged
  // ones are not resent), SotW the version of the type last applied.
  void subscribe(const std::string& type, discovery::DeltaDiscoveryRequest& request) {
    for (const auto& [name, version] : resources_.versions(type)) {
      (*request.mutable_initial_resource_versions())[name] = version;
    }
  }
  void subscribe(const std::string& type, discovery::DiscoveryRequest& request) {
    request.set_version_info(appliedVersion(type));
  }
  Update decode(const discovery::DeltaDiscoveryResponse& response) {
    Update update{response.type_url(), response.system_version_info()};
    for (const discovery::Resource& resource : response.resources()) {
      update.resources.push_back({resource.name(), resource.version(), resource.resource()});
    }
    update.removed.assign(response.removed_resources().begin(),
                          response.removed_resources().end());
    return update;
  }
  Update decode(const discovery::DiscoveryResponse& response) {
    Update update{response.type_url(), response.version_info()};
    for (const google::protobuf::Any& resource : response.resources()) {
      update.resources.push_back({std::nullopt, response.version_info(), resource});
    }
    update.replace_all = true;
    return update;
  }
  void completeAnswer(discovery::DeltaDiscoveryRequest& answer) {
    *answer.mutable_node() = options_.node;
  }
  // ACK: the response's version (process() recorded it); NACK: the one still in force.
  void completeAnswer(discovery::DiscoveryRequest& answer) {
    answer.set_version_info(appliedVersion(answer.type_url()));
  }

  // One stream: subscribe to every type (node in each first request), then answer every
  // response with an ACK or a NACK, until the stream ends or the client stops.
  template <typename Request, typename Response>
  grpc::Status runStream() {
    grpc::ClientContext context;
    if (!registerCall(&context)) return grpc::Status::CANCELLED;
    auto stream = open(&context, static_cast<Request*>(nullptr));
    for (const std::string& type : subscriptionOrder()) {
      Request request;
      *request.mutable_node() = options_.node;
      request.set_type_url(type);
      subscribe(type, request);
      if (!stream->Write(request)) break;
    }
    Response response;
    while (stream->Read(&response)) {
      onResponseReceived();
      std::optional<absl::Status> result = process(decode(response));
      if (!result) break;  // stopped
      Request answer;
      answer.set_type_url(response.type_url());
      answer.set_response_nonce(response.nonce());
      completeAnswer(answer);
      if (!result->ok()) {
        answer.mutable_error_detail()->set_code(kInvalidArgument);
        answer.mutable_error_detail()->set_message(std::string(result->message()));
      }
      if (!stream->Write(answer)) break;
    }
    unregisterCall();
    stream->WritesDone();
    return stream->Finish();
  }

  std::string appliedVersion(const std::string& type) const {
    auto it = applied_versions_.find(type);
    return it == applied_versions_.end() ? "" : it->second;
  }

  void onResponseReceived() {
    got_response_ = true;
    setConnected(true);
  }

  void setConnected(bool connected) {
    if (connected == connected_) return;
    connected_ = connected;
    if (connected) {
      shared_->connected->add();
      SKIFF_LOG(kInfo, "xds: connected to %s", options_.config.ads_address());
    } else {
      shared_->connected->sub();
    }
  }

  // Validates the response, builds the next snapshot and has the main thread apply it. Returns
  // the ACK (ok) or NACK (error) decision, or nullopt when the client stopped meanwhile.
  std::optional<absl::Status> process(const Update& update) {
    const std::string& type_url = update.type_url;
    const std::string& version = update.version;
    if (shared_->updates.count(type_url) == 0) {
      // Not a type we subscribed to: NACK, but count nothing (there is no label for it).
      SKIFF_LOG(kWarn, "xds: NACK of unknown type \"%s\"", type_url);
      return absl::InvalidArgumentError(absl::StrCat("unknown resource type \"", type_url, "\""));
    }
    ResourceSet next = resources_;
    absl::Status status = next.update(type_url, update.resources, update.removed,
                                      update.replace_all);
    absl::StatusOr<DynamicSnapshot> snapshot =
        status.ok() ? next.snapshot(options_.static_listener_names, options_.static_cluster_names)
                    : absl::StatusOr<DynamicSnapshot>(status);
    if (snapshot.ok()) {
      snapshot->versions = applied_versions_;
      snapshot->versions[type_url] = version;
      std::optional<absl::Status> applied = applyOnMain(type_url, std::move(*snapshot));
      if (!applied) return std::nullopt;
      status = *applied;
    } else {
      status = snapshot.status();
      post([shared = shared_, type_url] { shared->updates.at(type_url).second->inc(); });
    }
    if (status.ok()) {
      resources_ = std::move(next);
      applied_versions_[type_url] = version;
      SKIFF_LOG(kInfo, "xds: ACK %s version \"%s\" (%d resources)", shortTypeName(type_url),
                version, resources_.versions(type_url).size());
    } else {
      SKIFF_LOG(kWarn, "xds: NACK %s version \"%s\": %s", shortTypeName(type_url), version,
                status.message());
    }
    return status;
  }

  // Posts the apply to the main thread and waits for its answer; nullopt when stopped first.
  std::optional<absl::Status> applyOnMain(const std::string& type_url, DynamicSnapshot snapshot) {
    {
      std::lock_guard<std::mutex> lock(shared_->mutex);
      if (shared_->stopped) return std::nullopt;
      shared_->apply_result.reset();
    }
    auto shared_snapshot = std::make_shared<const DynamicSnapshot>(std::move(snapshot));
    post([shared = shared_, type_url, shared_snapshot] {
      if (shared->isStopped()) return;
      absl::Status status = shared->apply(*shared_snapshot);
      const auto& [ack, nack] = shared->updates.at(type_url);
      (status.ok() ? ack : nack)->inc();
      {
        std::lock_guard<std::mutex> lock(shared->mutex);
        shared->apply_result = status;
        shared->wake.notify_all();
      }
      if (!status.ok() || shared->initial_config_done) return;
      shared->applied_types.insert(type_url);
      if (shared->applied_types.size() == subscriptionOrder().size()) {
        shared->initial_config_done = true;
        if (shared->on_initial_config) shared->on_initial_config();
      }
    });
    std::unique_lock<std::mutex> lock(shared_->mutex);
    shared_->wake.wait(lock, [&] { return shared_->stopped || shared_->apply_result.has_value(); });
    if (shared_->stopped) return std::nullopt;
    return *shared_->apply_result;
  }

  void post(std::function<void()> task) { post_(std::move(task)); }

  const XdsClientOptions options_;
  const PostToMain post_;
  const std::shared_ptr<Shared> shared_;
  std::chrono::milliseconds base_interval_{0};
  std::chrono::milliseconds max_interval_{0};
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<discovery::AggregatedDiscoveryService::Stub> stub_;
  std::thread thread_;

  // Stream thread only (and the destructor, after the join).
  bool use_delta_ = true;
  bool connected_ = false;
  bool got_response_ = false;
  ResourceSet resources_;                                 // what the server last accepted
  std::map<std::string, std::string> applied_versions_;  // type -> version last accepted
};

XdsClient::XdsClient(XdsClientOptions options, PostToMain post, ApplyCallback apply,
                     stats::Registry& registry)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(post), std::move(apply),
                                   registry)) {}

XdsClient::~XdsClient() = default;

void XdsClient::start(std::function<void()> on_initial_config) {
  impl_->start(std::move(on_initial_config));
}

}  // namespace skiff::xds
