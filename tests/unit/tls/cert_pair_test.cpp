// cert_pair_test.cpp - load_cert_pair(), the one pair check behind --check and the server
// context: each refusal names the right file, says why, keeps OpenSSL's reason apart and
// leaves the error queue empty; a good pair comes back with its chain.
#include "relay/tls/cert_pair.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <cstdio>
#include <string>

#include "tests/unit/tls/test_pki.hpp"

namespace secmx::tls {
namespace {

using testing::rsa_pair;
using testing::test_pki;
using ::testing::HasSubstr;

PairError refusal(const std::string& cert, const std::string& key, KeyKind kind) {
  auto r = load_cert_pair(cert, key, kind);
  EXPECT_EQ(ERR_peek_error(), 0u) << "error queue left dirty";
  if (r) {
    ADD_FAILURE() << "accepted " << cert << " / " << key;
    return {};
  }
  return r.error();
}

TEST(CertPair, EcPairWithItsChain) {
  auto r = load_cert_pair(test_pki().server_chain, test_pki().server_key, KeyKind::Ec);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_NE(r->leaf, nullptr);
  EXPECT_NE(r->key, nullptr);
  ASSERT_NE(r->chain, nullptr);
  EXPECT_EQ(sk_X509_num(r->chain.get()), 1);  // the CA after the leaf
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(CertPair, RsaPairWhenAnyKindWillDo) {
  auto r = load_cert_pair(rsa_pair().first, rsa_pair().second, KeyKind::Any);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->chain, nullptr);
}

// Each refusal: which file it is about, the words, and a part of OpenSSL's reason.
struct Refusal {
  const char* what;
  std::string cert, key;
  KeyKind kind;
  PairProblem about;
  std::string message;
  std::string reason_part;  // "": not checked
};

TEST(CertPair, EachRefusalNamesItsFileAndWhy) {
  const auto& pki = test_pki();
  const std::string no_cert = (pki.dir / "nope.pem").string();
  const std::string no_key = (pki.dir / "nope.key").string();
  const Refusal cases[] = {
      {"missing certificate file", no_cert, pki.server_key, KeyKind::Any,
       PairProblem::Certificate, "cannot load certificate chain from '" + no_cert + "'",
       "No such file"},
      {"a key where the certificate goes", pki.server_key, pki.server_key, KeyKind::Any,
       PairProblem::Certificate, "no PEM certificate in '" + pki.server_key + "'", ""},
      {"RSA where EC is required", rsa_pair().first, rsa_pair().second, KeyKind::Ec,
       PairProblem::KeyKind,
       "'" + rsa_pair().first + "' is not an ECDSA certificate (its key is RSA)", ""},
      {"missing key file", pki.server_cert, no_key, KeyKind::Any, PairProblem::Key,
       "cannot load private key from '" + no_key + "'", "No such file"},
      {"not a key", pki.server_cert, pki.ca_cert, KeyKind::Any, PairProblem::Key,
       "cannot load private key from '" + pki.ca_cert +
           "' (no unencrypted PEM private key there)",
       ""},
      {"mismatched pair", pki.server_cert, pki.other_key, KeyKind::Ec, PairProblem::Key,
       "private key '" + pki.other_key + "' does not match certificate '" + pki.server_cert +
           "'",
       "mismatch"},
      {"a key of another type", pki.server_cert, rsa_pair().second, KeyKind::Any,
       PairProblem::Key,
       "private key '" + rsa_pair().second + "' does not match certificate '" +
           pki.server_cert + "'",
       ""},
  };
  for (const Refusal& c : cases) {
    SCOPED_TRACE(c.what);
    PairError e = refusal(c.cert, c.key, c.kind);
    EXPECT_EQ(e.about, c.about);
    EXPECT_EQ(e.message, c.message);
    EXPECT_THAT(e.reason, HasSubstr(c.reason_part));
  }
}

TEST(CertPair, EncryptedKeyIsRefusedWithoutAPrompt) {
  std::string encrypted = (test_pki().dir / "encrypted.key").string();
  {
    FILE* in = std::fopen(test_pki().server_key.c_str(), "r");
    ASSERT_NE(in, nullptr);
    EvpPkeyPtr key(PEM_read_PrivateKey(in, nullptr, nullptr, nullptr));
    std::fclose(in);
    ASSERT_NE(key, nullptr);
    FILE* out = std::fopen(encrypted.c_str(), "w");
    ASSERT_NE(out, nullptr);
    char pass[] = "secret";
    ASSERT_EQ(PEM_write_PrivateKey(out, key.get(), EVP_aes_128_cbc(), nullptr, 0, nullptr, pass),
              1);
    std::fclose(out);
  }
  PairError e = refusal(test_pki().server_cert, encrypted, KeyKind::Any);
  EXPECT_EQ(e.about, PairProblem::Key);
  EXPECT_THAT(e.message, HasSubstr("no unencrypted PEM private key")) << e.message;
}

}  // namespace
}  // namespace secmx::tls
