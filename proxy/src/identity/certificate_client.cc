#include "identity/certificate_client.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "grpcpp/grpcpp.h"
#include "identity/csr.h"

namespace skiff::identity {

// What the main thread, the client thread and posted results share. Posted results hold it by
// shared_ptr and check `stopped` (main thread) before calling back into a client that may be
// gone.
struct CertificateClient::Shared {
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;                        // guarded by mutex
  std::optional<std::pair<SignJob, Done>> job;  // guarded by mutex
  grpc::ClientContext* active_call = nullptr;   // guarded by mutex
  bool stopped = false;                         // main thread only
};

namespace {

absl::StatusOr<std::string> readToken(const std::string& path) {
  if (path.empty()) return absl::FailedPreconditionError("no token file configured");
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read token file ", path));
  std::ostringstream content;
  content << in.rdbuf();
  std::string token(absl::StripAsciiWhitespace(content.str()));
  if (token.empty())
    return absl::FailedPreconditionError(absl::StrCat("token file ", path, " is empty"));
  return token;
}

absl::Status fromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace

CertificateClient::CertificateClient(std::string address, PostToMain post,
                                     std::chrono::milliseconds timeout)
    : address_(std::move(address)),
      post_(std::move(post)),
      timeout_(timeout),
      shared_(std::make_shared<Shared>()) {
  // gRPC's own reconnect backoff grows to 120s by default and would make a restarted
  // skiff-control wait that long; our retries already back off (up to 30s).
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 500);
  arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 500);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  stub_ = ca::v1::CertificateService::NewStub(
      grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), arguments));
  thread_ = std::thread([this] { run(); });
}

CertificateClient::~CertificateClient() {
  shared_->stopped = true;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->stopping = true;
    if (shared_->active_call != nullptr) shared_->active_call->TryCancel();
    shared_->wake.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

bool CertificateClient::sign(SignJob job, Done done) {
  if (busy_) return false;
  busy_ = true;
  std::lock_guard<std::mutex> lock(shared_->mutex);
  shared_->job.emplace(std::move(job), std::move(done));
  shared_->wake.notify_all();
  return true;
}

void CertificateClient::run() {
  for (;;) {
    std::pair<SignJob, Done> job;
    {
      std::unique_lock<std::mutex> lock(shared_->mutex);
      shared_->wake.wait(lock, [&] { return shared_->stopping || shared_->job.has_value(); });
      if (shared_->stopping) return;
      job = std::move(*shared_->job);
      shared_->job.reset();
    }
    auto result = std::make_shared<absl::StatusOr<SignResult>>(attempt(job.first));
    post_([this, shared = shared_, done = std::move(job.second), result] {
      if (shared->stopped) return;
      busy_ = false;
      done(std::move(*result));
    });
  }
}

absl::StatusOr<SignResult> CertificateClient::attempt(const SignJob& job) {
  auto token = readToken(job.token_file);
  if (!token.ok()) return token.status();
  auto key_and_csr = generateKeyAndCsr(job.node_id);
  if (!key_and_csr.ok()) return key_and_csr.status();

  ca::v1::SignCertificateRequest request;
  request.set_workload(job.workload);
  request.set_node_id(job.node_id);
  request.set_token(*token);
  request.set_csr_pem(key_and_csr->csr_pem);
  if (job.ttl.count() > 0) request.mutable_ttl()->set_seconds(job.ttl.count());

  SignResult result;
  result.private_key_pem = std::move(key_and_csr->private_key_pem);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout_);
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    if (shared_->stopping) return absl::CancelledError("shutting down");
    shared_->active_call = &context;
  }
  grpc::Status status = stub_->SignCertificate(&context, request, &result.response);
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->active_call = nullptr;
  }
  if (!status.ok()) return fromGrpc(status);
  return result;
}

}  // namespace skiff::identity
