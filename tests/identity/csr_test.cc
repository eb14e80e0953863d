#include "identity/csr.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstring>

#include "identity/certificate_info.h"

namespace skiff::identity {
namespace {

X509_REQ* parseCsr(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509_REQ* request = PEM_read_bio_X509_REQ(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return request;
}

TEST(CsrTest, FreshP256KeyAndAVerifyingCsrForIt) {
  auto generated = generateKeyAndCsr("frontend-0");
  ASSERT_TRUE(generated.ok()) << generated.status();
  X509_REQ* request = parseCsr(generated->csr_pem);
  ASSERT_NE(request, nullptr);
  EVP_PKEY* public_key = X509_REQ_get0_pubkey(request);
  ASSERT_NE(public_key, nullptr);
  EXPECT_EQ(X509_REQ_verify(request, public_key), 1);
  ASSERT_TRUE(EVP_PKEY_is_a(public_key, "EC"));
  char group[64] = {};
  size_t length = 0;
  ASSERT_EQ(EVP_PKEY_get_utf8_string_param(public_key, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                           sizeof(group), &length),
            1);
  EXPECT_STREQ(group, "prime256v1");

  // The private key returned is the CSR's.
  BIO* bio = BIO_new_mem_buf(generated->private_key_pem.data(),
                             static_cast<int>(generated->private_key_pem.size()));
  EVP_PKEY* private_key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(private_key, nullptr);
  EXPECT_EQ(EVP_PKEY_eq(private_key, public_key), 1);
  EVP_PKEY_free(private_key);
  X509_REQ_free(request);

  // Every call makes a new key.
  auto again = generateKeyAndCsr("frontend-0");
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->private_key_pem, generated->private_key_pem);
}

TEST(CertificateInfoTest, NoCertificateIsAnError) {
  EXPECT_FALSE(readLeaf("").ok());
  EXPECT_EQ(countCertificates("garbage"), 0);
  EXPECT_TRUE(certificateSubjects("").empty());
}

}  // namespace
}  // namespace skiff::identity
