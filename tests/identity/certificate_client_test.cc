// The proxy's certificate client against the real certificate service (skiff_ca) on an
// in-process gRPC server: the contract between the two halves of issue 5's identity work.

#include "identity/certificate_client.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>

#include "ca/certificate_service.h"
#include "grpcpp/grpcpp.h"
#include "identity/certificate_info.h"

namespace skiff::identity {
namespace {

std::string tempDir() {
  char path[] = "/tmp/skiff-identity-test-XXXXXX";
  return mkdtemp(path);
}

void writeFile(const std::string& path, const std::string& content) {
  std::ofstream(path) << content;
}

// The test thread plays the main thread: posted work queues here until it is run.
class MainQueue {
 public:
  CertificateClient::PostToMain poster() {
    return [this](std::function<void()> work) {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(work));
      wake_.notify_all();
    };
  }
  // Runs posted work until `done` or the timeout.
  bool runUntil(const std::function<bool()>& done, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      std::function<void()> work;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!wake_.wait_until(lock, deadline, [&] { return !queue_.empty(); })) return false;
        work = std::move(queue_.front());
        queue_.pop_front();
      }
      work();
    }
    return true;
  }
  size_t pending() {
    std::lock_guard<std::mutex> lock(mutex_);
    return queue_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
};

class CertificateClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tempDir();
    ::mkdir((dir_ + "/tokens").c_str(), 0700);
    writeFile(dir_ + "/tokens/cart-v1", "t0ken\n");
    writeFile(dir_ + "/cart.token", "t0ken");
    mesh_ = std::make_shared<mesh::v1::MeshFile>();
    auto* service = mesh_->add_services();
    service->set_name("cart");
    service->set_namespace_("shop");
    auto* workload = mesh_->add_workloads();
    workload->set_name("cart-v1");
    workload->set_service("cart");
    bool generated = false;
    auto authority = ca::CertificateAuthority::fromDirectory(dir_ + "/ca", &generated);
    ASSERT_TRUE(authority.ok()) << authority.status();
    service_ = std::make_unique<ca::CertificateService>(
        std::move(*authority), ca::TokenStore(dir_ + "/tokens"), [this] { return mesh_; });
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(port_, 0);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }

  std::unique_ptr<CertificateClient> client(int port = 0) {
    return std::make_unique<CertificateClient>("127.0.0.1:" + std::to_string(port ? port : port_),
                                               main_.poster(), std::chrono::milliseconds(3000));
  }

  absl::StatusOr<SignResult> signOnce(CertificateClient& client, const std::string& token_file) {
    std::optional<absl::StatusOr<SignResult>> result;
    SignJob job{"cart-v1", "cart-0", token_file, std::chrono::seconds(3600)};
    EXPECT_TRUE(client.sign(job, [&](absl::StatusOr<SignResult> r) { result = std::move(r); }));
    EXPECT_TRUE(client.busy());
    EXPECT_TRUE(main_.runUntil([&] { return result.has_value(); }, std::chrono::seconds(10)));
    EXPECT_FALSE(client.busy());
    if (!result) return absl::DeadlineExceededError("no result");
    return *std::move(result);
  }

  std::string dir_;
  std::shared_ptr<mesh::v1::MeshFile> mesh_;
  std::unique_ptr<ca::CertificateService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  MainQueue main_;
};

TEST_F(CertificateClientTest, IssuedCertificateIsForTheKeyTheClientMade) {
  auto c = client();
  auto result = signOnce(*c, dir_ + "/cart.token");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->response.identity(), "spiffe://cluster.local/ns/shop/sa/cart");
  auto leaf = readLeaf(result->response.certificate_chain_pem());
  ASSERT_TRUE(leaf.ok());
  EXPECT_EQ(leaf->spiffe_uri, result->response.identity());
  EXPECT_NEAR(std::chrono::duration_cast<std::chrono::seconds>(leaf->not_after -
                                                               std::chrono::system_clock::now())
                  .count(),
              3600, 5);

  // The returned private key is the certified one.
  BIO* key_bio = BIO_new_mem_buf(result->private_key_pem.data(),
                                 static_cast<int>(result->private_key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  const std::string& chain = result->response.certificate_chain_pem();
  BIO* cert_bio = BIO_new_mem_buf(chain.data(), static_cast<int>(chain.size()));
  X509* cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
  ASSERT_NE(key, nullptr);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_private_key(cert, key), 1);
  X509_free(cert);
  EVP_PKEY_free(key);
  BIO_free(cert_bio);
  BIO_free(key_bio);

  // A second attempt: a new key.
  auto again = signOnce(*c, dir_ + "/cart.token");
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->private_key_pem, result->private_key_pem);
}

TEST_F(CertificateClientTest, TokenFileIsReadAtEveryAttempt) {
  auto c = client();
  writeFile(dir_ + "/cart.token", "stale");
  auto refused = signOnce(*c, dir_ + "/cart.token");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(refused.status().message().find("wrong token"), std::string::npos);
  writeFile(dir_ + "/cart.token", "t0ken\n");
  EXPECT_TRUE(signOnce(*c, dir_ + "/cart.token").ok());

  auto missing = signOnce(*c, dir_ + "/nope.token");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope.token"), std::string::npos);
  EXPECT_EQ(service_->refused(), 1u);  // the missing file never reached the CA
}

TEST_F(CertificateClientTest, UnreachableCaIsAnErrorNotAHang) {
  server_->Shutdown(std::chrono::system_clock::now());
  server_.reset();
  auto c = client();
  auto result = signOnce(*c, dir_ + "/cart.token");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
}

TEST_F(CertificateClientTest, ADestroyedClientNeverCallsBack) {
  auto c = client();
  bool called = false;
  c->sign(SignJob{"cart-v1", "cart-0", dir_ + "/cart.token", {}},
          [&](absl::StatusOr<SignResult>) { called = true; });
  EXPECT_FALSE(c->sign(SignJob{}, [](absl::StatusOr<SignResult>) {}));  // one at a time
  // Let the call finish and post its result, then destroy the client before running it.
  for (int i = 0; i < 200 && main_.pending() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(main_.pending(), 1u);
  c.reset();
  main_.runUntil([] { return false; }, std::chrono::seconds(0));
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace skiff::identity
