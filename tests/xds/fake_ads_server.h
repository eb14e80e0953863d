#pragma once

// A test double of the control plane's discovery service: records every request the client
// sends and writes the responses a test queues. Delta can be made UNIMPLEMENTED to exercise the
// state-of-the-world fallback. One stream at a time is enough for the client under test.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "skiff/discovery/v1/discovery.grpc.pb.h"

namespace skiff::xds::testing {

namespace discovery = ::skiff::discovery::v1;

class FakeAdsServer final : public discovery::AggregatedDiscoveryService::Service {
 public:
  // Port 0: the kernel picks one; pass the port of a server that went away to come back on it.
  explicit FakeAdsServer(bool delta_implemented = true, int port = 0)
      : delta_implemented_(delta_implemented) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port),
                             grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~FakeAdsServer() override { stop(); }

  // Ends every stream (the client sees the control plane go away).
  void stop() {
    if (!server_) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      changed_.notify_all();
    }
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    server_->Wait();
    server_.reset();
  }

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  void send(const discovery::DeltaDiscoveryResponse& response) {
    std::lock_guard<std::mutex> lock(mutex_);
    delta_out_.push_back(response);
    changed_.notify_all();
  }
  void send(const discovery::DiscoveryResponse& response) {
    std::lock_guard<std::mutex> lock(mutex_);
    sotw_out_.push_back(response);
    changed_.notify_all();
  }

  // Waits (up to 5s) for the n-th request (0-based) of the stream kind; false on timeout.
  bool waitDelta(size_t n, discovery::DeltaDiscoveryRequest* out) {
    return waitNth(delta_in_, n, out);
  }
  bool waitSotw(size_t n, discovery::DiscoveryRequest* out) { return waitNth(sotw_in_, n, out); }
  size_t deltaRequests() {
    std::lock_guard<std::mutex> lock(mutex_);
    return delta_in_.size();
  }
  int deltaStreams() {
    std::lock_guard<std::mutex> lock(mutex_);
    return delta_streams_;
  }
  int deltaAttempts() {
    std::lock_guard<std::mutex> lock(mutex_);
    return delta_attempts_;
  }

  grpc::Status DeltaAggregatedResources(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<discovery::DeltaDiscoveryResponse,
                               discovery::DeltaDiscoveryRequest>* stream) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++delta_attempts_;
    }
    if (!delta_implemented_) return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no delta");
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++delta_streams_;
    }
    return serve(context, stream, delta_in_, delta_out_);
  }

  grpc::Status StreamAggregatedResources(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<discovery::DiscoveryResponse, discovery::DiscoveryRequest>* stream)
      override {
    return serve(context, stream, sotw_in_, sotw_out_);
  }

 private:
  // The copy is made under the lock: the stream threads keep appending (and reallocating).
  template <class Request>
  bool waitNth(const std::vector<Request>& requests, size_t n, Request* out) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!changed_.wait_for(lock, std::chrono::seconds(5), [&] { return requests.size() > n; })) {
      return false;
    }
    *out = requests[n];
    return true;
  }

  // A reader thread records requests; this thread writes queued responses until the stream
  // ends or the server stops.
  template <typename Response, typename Request>
  grpc::Status serve(grpc::ServerContext* context,
                     grpc::ServerReaderWriter<Response, Request>* stream,
                     std::vector<Request>& requests, std::deque<Response>& responses) {
    bool reader_done = false;
    std::thread reader([&] {
      Request request;
      while (stream->Read(&request)) {
        std::lock_guard<std::mutex> lock(mutex_);
        requests.push_back(request);
        changed_.notify_all();
      }
      std::lock_guard<std::mutex> lock(mutex_);
      reader_done = true;
      changed_.notify_all();
    });
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_ && !reader_done && !context->IsCancelled()) {
      if (responses.empty()) {
        changed_.wait_for(lock, std::chrono::milliseconds(20));
        continue;
      }
      Response response = responses.front();
      responses.pop_front();
      lock.unlock();
      stream->Write(response);
      lock.lock();
    }
    lock.unlock();
    context->TryCancel();  // unblocks the reader
    reader.join();
    return grpc::Status::OK;
  }

  const bool delta_implemented_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  int delta_attempts_ = 0;
  int delta_streams_ = 0;
  std::vector<discovery::DeltaDiscoveryRequest> delta_in_;
  std::deque<discovery::DeltaDiscoveryResponse> delta_out_;
  std::vector<discovery::DiscoveryRequest> sotw_in_;
  std::deque<discovery::DiscoveryResponse> sotw_out_;
};

}  // namespace skiff::xds::testing
