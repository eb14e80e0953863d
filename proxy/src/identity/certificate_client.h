#pragma once

// One certificate request at a time to skiff-control's CertificateService, made on the
// client's own thread so the main loop never waits on the network, the key generation or the
// token file. Each attempt makes a NEW key and CSR and reads the token file afresh (a rotated
// token is picked up without a restart). The result is posted to the main thread.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "skiff/ca/v1/ca.grpc.pb.h"

namespace skiff::identity {

struct SignJob {
  std::string workload;
  std::string node_id;
  std::string token_file;
  std::chrono::seconds ttl{0};  // 0: the CA's default
};

struct SignResult {
  std::string private_key_pem;  // the key the CSR was made for
  ca::v1::SignCertificateResponse response;
};

class CertificateClient {
 public:
  using PostToMain = std::function<void(std::function<void()>)>;
  using Done = std::function<void(absl::StatusOr<SignResult>)>;

  // `address` is "host:port" (plaintext gRPC, like the discovery stream).
  CertificateClient(std::string address, PostToMain post, std::chrono::milliseconds timeout);
  // Main thread. Cancels the call in flight and joins; `done` of an abandoned call never runs.
  ~CertificateClient();

  // Main thread. Starts an attempt; `done` runs on the main thread. A call while one is in
  // flight is ignored (returns false): the caller waits for the first one's result.
  bool sign(SignJob job, Done done);
  bool busy() const { return busy_; }

 private:
  struct Shared;
  void run();
  absl::StatusOr<SignResult> attempt(const SignJob& job);

  const std::string address_;
  PostToMain post_;
  const std::chrono::milliseconds timeout_;
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<ca::v1::CertificateService::Stub> stub_;
  std::thread thread_;
  bool busy_ = false;  // main thread
};

}  // namespace skiff::identity
