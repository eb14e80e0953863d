#include "ca/certificate_service.h"

#include <gtest/gtest.h>

#include "ca/token_store.h"
#include "ca/workload_identity.h"
#include "google/protobuf/text_format.h"
#include "test_pki.h"

namespace skiff::ca {
namespace {

std::shared_ptr<const mesh::v1::MeshFile> meshOf(const std::string& text) {
  auto mesh = std::make_shared<mesh::v1::MeshFile>();
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, mesh.get()));
  return mesh;
}

constexpr char kMesh[] = R"pb(
  settings { trust_domain: "prod.example" }
  services { name: "cart" namespace: "shop" port: 80 }
  services { name: "web" port: 80 }
  workloads { name: "cart-v1" service: "cart" service_account: "cart-sa" app_port: 8080 }
  workloads { name: "web-v1" service: "web" app_port: 8080 }
)pb";

struct Fixture {
  std::string token_dir = testing::tempDir();
  std::shared_ptr<const mesh::v1::MeshFile> mesh = meshOf(kMesh);
  std::unique_ptr<CertificateService> service;

  explicit Fixture(bool with_tokens = true) {
    bool generated = false;
    auto ca = CertificateAuthority::fromDirectory(testing::tempDir(), &generated);
    EXPECT_TRUE(ca.ok());
    testing::writeFile(token_dir + "/cart-v1", "  s3cret-cart\n");
    testing::writeFile(token_dir + "/ghost", "boo");
    std::optional<TokenStore> tokens;
    if (with_tokens) tokens.emplace(token_dir);
    service = std::make_unique<CertificateService>(std::move(*ca), std::move(tokens),
                                                   [this] { return mesh; });
  }

  ca::v1::SignCertificateRequest request(const std::string& workload, const std::string& token) {
    ca::v1::SignCertificateRequest request;
    request.set_workload(workload);
    request.set_token(token);
    request.set_node_id(workload + "-0");
    key = testing::ecKey();
    request.set_csr_pem(testing::csrPem(key.get()));
    return request;
  }
  OsslPtr<EVP_PKEY> key;
};

TEST(CertificateServiceTest, IssuesTheWorkloadsIdentity) {
  Fixture f;
  auto response = f.service->sign(f.request("cart-v1", "s3cret-cart"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->identity(), "spiffe://prod.example/ns/shop/sa/cart-sa");
  EXPECT_EQ(testing::verifyChain(response->certificate_chain_pem(), response->trust_bundle_pem()),
            X509_V_OK);
  EXPECT_EQ(response->trust_bundle_pem(), f.service->authority()->trustBundlePem());
  // Default lifetime: 24h.
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_NEAR(response->not_after().seconds() - now, 24 * 3600, 5);

  auto asked = f.request("cart-v1", "s3cret-cart");
  asked.mutable_ttl()->set_seconds(600);
  auto short_lived = f.service->sign(asked);
  ASSERT_TRUE(short_lived.ok());
  EXPECT_NEAR(short_lived->not_after().seconds() - now, 600, 5);
}

TEST(CertificateServiceTest, RefusesWrongTokensAndUnknownWorkloads) {
  Fixture f;
  auto wrong = f.service->sign(f.request("cart-v1", "s3cret-carT"));
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(wrong.status().message().find("wrong token"), std::string::npos);

  auto empty = f.service->sign(f.request("cart-v1", ""));
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kUnauthenticated);

  // No token file for web-v1.
  auto no_token = f.service->sign(f.request("web-v1", "anything"));
  EXPECT_EQ(no_token.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(no_token.status().message().find("no token"), std::string::npos);

  // A token, but not in the mesh.
  auto ghost = f.service->sign(f.request("ghost", "boo"));
  EXPECT_EQ(ghost.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(ghost.status().message().find("not in the mesh"), std::string::npos);

  // Never a path outside the token directory.
  auto traversal = f.service->sign(f.request("../etc/passwd", "x"));
  EXPECT_EQ(traversal.status().code(), absl::StatusCode::kInvalidArgument);

  // A valid token with a bad CSR.
  auto request = f.request("cart-v1", "s3cret-cart");
  auto rsa = testing::rsaKey();
  request.set_csr_pem(testing::csrPem(rsa.get()));
  EXPECT_EQ(f.service->sign(request).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CertificateServiceTest, TokensAreReadAtEachRequest) {
  Fixture f;
  ASSERT_TRUE(f.service->sign(f.request("cart-v1", "s3cret-cart")).ok());
  testing::writeFile(f.token_dir + "/cart-v1", "rotated\n");
  EXPECT_EQ(f.service->sign(f.request("cart-v1", "s3cret-cart")).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(f.service->sign(f.request("cart-v1", "rotated")).ok());
}

TEST(CertificateServiceTest, WithoutATokenDirectoryEverythingIsRefused) {
  Fixture f(false);
  auto response = f.service->sign(f.request("cart-v1", "s3cret-cart"));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(response.status().message().find("--token-dir"), std::string::npos);
}

TEST(WorkloadIdentityTest, Defaults) {
  auto mesh = meshOf(R"pb(
    services { name: "web" }
    workloads { name: "web-v1" service: "web" }
  )pb");
  auto id = workloadSpiffeId(*mesh, "web-v1");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "spiffe://cluster.local/ns/default/sa/web");
  EXPECT_EQ(workloadSpiffeId(*mesh, "nope").status().code(), absl::StatusCode::kNotFound);

  auto bad = meshOf(R"pb(
    settings { trust_domain: "Upper.Case" }
    services { name: "web" }
    workloads { name: "web-v1" service: "web" }
  )pb");
  EXPECT_EQ(workloadSpiffeId(*bad, "web-v1").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(TokenStoreTest, WorkloadNamesThatCouldLeaveTheDirectoryAreRefused) {
  EXPECT_TRUE(isSafeWorkloadName("cart-v1.blue_2"));
  EXPECT_FALSE(isSafeWorkloadName(""));
  EXPECT_FALSE(isSafeWorkloadName(".."));
  EXPECT_FALSE(isSafeWorkloadName(".hidden"));
  EXPECT_FALSE(isSafeWorkloadName("a/b"));
  EXPECT_FALSE(isSafeWorkloadName("a\nb"));
}

}  // namespace
}  // namespace skiff::ca
