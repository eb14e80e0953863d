#include "simulated_proxy.h"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>

#include "absl/strings/str_cat.h"

namespace skiff::cli {

const std::vector<std::string>& subscribedTypes() {
  static const std::vector<std::string> types = {
      "type.googleapis.com/skiff.config.v1.Cluster",
      "type.googleapis.com/skiff.config.v1.ClusterLoadAssignment",
      "type.googleapis.com/skiff.config.v1.Listener",
      "type.googleapis.com/skiff.config.v1.RouteConfiguration",
  };
  return types;
}

namespace {

using discovery::v1::DeltaDiscoveryRequest;
using discovery::v1::DeltaDiscoveryResponse;
using discovery::v1::DiscoveryRequest;
using discovery::v1::DiscoveryResponse;

// What the tracker is told once an ACK is on the wire.
struct AckNote {
  std::string type_url;
  std::string version;
  size_t resources = 0;
};

// The first request of a type: both envelopes name the node and the type, and no resources
// (wildcard).
template <typename Request>
Request subscribe(const config::v1::Node& node, const std::string& type_url) {
  Request request;
  *request.mutable_node() = node;
  request.set_type_url(type_url);
  return request;
}

// The protocol differences between the two stream kinds; the stream mechanics are shared.
struct DeltaProtocol {
  using Request = DeltaDiscoveryRequest;
  using Response = DeltaDiscoveryResponse;
  // Resource names held per type: a delta response only carries what changed.
  std::map<std::string, std::set<std::string>> held;

  static void open(discovery::v1::AggregatedDiscoveryService::Stub& stub,
                   grpc::ClientContext* context,
                   grpc::ClientBidiReactor<Request, Response>* reactor) {
    stub.async()->DeltaAggregatedResources(context, reactor);
  }
  Request ack(const Response& response, AckNote* note) {
    auto& names = held[response.type_url()];
    for (const auto& resource : response.resources()) names.insert(resource.name());
    for (const auto& name : response.removed_resources()) names.erase(name);
    note->type_url = response.type_url();
    note->version = response.system_version_info();
    note->resources = names.size();
    Request request;
    request.set_type_url(response.type_url());
    request.set_response_nonce(response.nonce());
    return request;
  }
};

struct SotwProtocol {
  using Request = DiscoveryRequest;
  using Response = DiscoveryResponse;

  static void open(discovery::v1::AggregatedDiscoveryService::Stub& stub,
                   grpc::ClientContext* context,
                   grpc::ClientBidiReactor<Request, Response>* reactor) {
    stub.async()->StreamAggregatedResources(context, reactor);
  }
  Request ack(const Response& response, AckNote* note) {
    note->type_url = response.type_url();
    note->version = response.version_info();
    note->resources = static_cast<size_t>(response.resources_size());
    Request request;
    request.set_version_info(response.version_info());
    request.set_type_url(response.type_url());
    request.set_response_nonce(response.nonce());
    return request;
  }
};

template <typename Protocol>
class Stream : public SimulatedProxy,
               public grpc::ClientBidiReactor<typename Protocol::Request,
                                              typename Protocol::Response> {
 public:
  using Request = typename Protocol::Request;
  using Response = typename Protocol::Response;

  Stream(discovery::v1::AggregatedDiscoveryService::Stub& stub, config::v1::Node node,
         size_t index, LoadTracker& tracker)
      : stub_(stub), node_(std::move(node)), index_(index), tracker_(tracker) {}

  void start() override {
    Protocol::open(stub_, &context_, this);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& type_url : subscribedTypes()) {
        pending_.push_back({subscribe<Request>(node_, type_url), std::nullopt});
      }
      writing_ = true;
      this->StartWrite(&pending_.front().request);
    }
    this->StartRead(&response_);
    this->StartCall();
  }

  void cancel() override { context_.TryCancel(); }

  void waitDone() override {
    std::unique_lock<std::mutex> lock(mutex_);
    done_changed_.wait(lock, [&] { return done_; });
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream is over; OnDone follows with the status
    {
      std::lock_guard<std::mutex> lock(mutex_);
      AckNote note;
      Request ack = protocol_.ack(response_, &note);
      pending_.push_back({std::move(ack), std::move(note)});
      if (!writing_) {
        writing_ = true;
        this->StartWrite(&pending_.front().request);
      }
    }
    this->StartRead(&response_);
  }

  void OnWriteDone(bool ok) override {
    auto now = LoadClock::now();
    std::optional<AckNote> written;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      written = std::move(pending_.front().note);
      pending_.pop_front();
      if (!ok) {
        writing_ = false;
        return;  // the stream broke; OnDone reports it
      }
      if (pending_.empty()) {
        writing_ = false;
      } else {
        this->StartWrite(&pending_.front().request);
      }
    }
    if (written) {
      tracker_.recordAck(index_, written->type_url, written->version, written->resources, now);
    }
  }

  void OnDone(const grpc::Status& status) override {
    tracker_.recordClosed(index_, absl::StrCat(static_cast<int>(status.error_code()), " ",
                                               status.error_message()));
    last_status_ = status;
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
    done_changed_.notify_all();
  }

 private:
  struct Outgoing {
    Request request;
    std::optional<AckNote> note;  // set for ACKs, empty for the first requests
  };

  discovery::v1::AggregatedDiscoveryService::Stub& stub_;
  const config::v1::Node node_;
  const size_t index_;
  LoadTracker& tracker_;
  grpc::ClientContext context_;
  Protocol protocol_;  // touched only in OnReadDone, which gRPC never runs twice at once
  Response response_;
  std::mutex mutex_;
  std::condition_variable done_changed_;
  // gRPC allows one write in flight: the rest wait here, the front one is on the wire.
  std::deque<Outgoing> pending_;
  bool writing_ = false;
  bool done_ = false;
  grpc::Status last_status_;
};

}  // namespace

std::unique_ptr<SimulatedProxy> makeSimulatedProxy(
    StreamKind kind, discovery::v1::AggregatedDiscoveryService::Stub& stub,
    config::v1::Node node, size_t index, LoadTracker& tracker) {
  if (kind == StreamKind::kDelta) {
    return std::make_unique<Stream<DeltaProtocol>>(stub, std::move(node), index, tracker);
  }
  return std::make_unique<Stream<SotwProtocol>>(stub, std::move(node), index, tracker);
}

}  // namespace skiff::cli
