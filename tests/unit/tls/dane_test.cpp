// dane_test.cpp - DANE (RFC 7672) and the peer's identity through TlsSession, client and
// server in memory: TLSA matches and mismatches for DANE-EE and DANE-TA, name checks (off
// for EE, on for TA), records OpenSSL refuses, PKIX with several names, the certificate
// fingerprint, and what resumed sessions report. TLSA data and fingerprints are computed
// here from the certificate files, independently of the code under test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdio>
#include <string>
#include <vector>

#include "relay/tls/openssl_ptr.hpp"
#include "relay/tls/peer_verify.hpp"
#include "relay/tls/tls_session.hpp"
#include "tests/unit/tls/test_pki.hpp"
#include "tests/unit/tls/tls_pair.hpp"

namespace secmx::tls {
namespace {

using testing::ca_server_ctx;
using testing::client_ctx;
using testing::connect;
using testing::handshake;
using testing::kOtherName;
using testing::kServerName;
using testing::make;
using testing::names;
using testing::Pair;
using testing::send;
using testing::server_ctx;
using testing::test_pki;
using ::testing::HasSubstr;

constexpr const char* kBaseDomain = "dest.test.example";  // the TLSA base domain

X509Ptr load(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return nullptr;
  X509Ptr cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  return cert;
}

std::vector<std::uint8_t> der(X509* cert, std::uint8_t selector) {
  unsigned char* out = nullptr;
  int len = selector == 0 ? i2d_X509(cert, &out)
                          : i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &out);
  std::vector<std::uint8_t> v;
  if (len > 0) v.assign(out, out + len);
  OPENSSL_free(out);
  return v;
}

std::vector<std::uint8_t> digest(const std::vector<std::uint8_t>& in, const EVP_MD* md) {
  std::vector<std::uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(in.data(), in.size(), out.data(), &len, md, nullptr), 1);
  out.resize(len);
  return out;
}

// The TLSA record of `usage` for the certificate in `pem_file`, as a zone would publish it.
DaneRecord tlsa(const std::string& pem_file, std::uint8_t usage, std::uint8_t selector,
                std::uint8_t mtype) {
  X509Ptr cert = load(pem_file);
  EXPECT_TRUE(cert) << pem_file;
  if (!cert) return {};
  std::vector<std::uint8_t> data = der(cert.get(), selector);
  if (mtype == 1) data = digest(data, EVP_sha256());
  if (mtype == 2) data = digest(data, EVP_sha512());
  return DaneRecord{usage, selector, mtype, data};
}

PeerVerify dane(std::vector<DaneRecord> records,
                std::vector<std::string> names = {kBaseDomain, kServerName}) {
  return PeerVerify{std::move(names), std::move(records)};
}

std::shared_ptr<TlsContext> chain_server() {
  return server_ctx(test_pki().server_chain, test_pki().server_key);
}
std::shared_ptr<TlsContext> other_host_server() {
  return server_ctx(test_pki().other_chain, test_pki().other_cert_key);
}
std::shared_ptr<TlsContext> self_signed_server() {
  return server_ctx(test_pki().self_signed_cert, test_pki().self_signed_key);
}

// The client's view after a handshake with `server` under `verify`; the handshake must
// complete whatever the verdict (verification never fails it).
PeerInfo client_view(std::shared_ptr<TlsContext> server, const PeerVerify& verify,
                     std::shared_ptr<TlsContext> client = client_ctx()) {
  Pair p = connect(std::move(client), std::move(server), verify);
  if (!p.client || !p.client->handshake_done()) {
    ADD_FAILURE() << "no handshake";
    return {};
  }
  EXPECT_EQ(send(*p.client, *p.server, "EHLO x\r\n"), "EHLO x\r\n");
  return p.client->peer_info();
}

// --- DANE-EE (3 x x): the leaf itself, no name checks --------------------------------

TEST(Dane, EeSpkiSha256MatchIsVerifiedByDane) {
  PeerInfo info = client_view(chain_server(), dane({tlsa(test_pki().server_cert, 3, 1, 1)}));
  EXPECT_TRUE(info.verified) << info.verify_error;
  EXPECT_TRUE(info.dane);
  EXPECT_EQ(info.verify_error, "");
}

TEST(Dane, EeIgnoresTheNamesAndThePkixChain) {
  // A self-signed certificate for another name than any asked: DANE-EE binds the key by
  // itself (RFC 7672 §3.1.1).
  PeerInfo info = client_view(self_signed_server(),
                              dane({tlsa(test_pki().self_signed_cert, 3, 1, 1)},
                                   {kBaseDomain, "mx.elsewhere.example"}));
  EXPECT_TRUE(info.verified) << info.verify_error;
  EXPECT_TRUE(info.dane);

  info = client_view(other_host_server(), dane({tlsa(test_pki().other_cert, 3, 1, 1)}));
  EXPECT_TRUE(info.verified) << info.verify_error;
  EXPECT_TRUE(info.dane);
}

TEST(Dane, EeFullCertificateSha256AndSpkiSha512Match) {
  PeerInfo full = client_view(chain_server(), dane({tlsa(test_pki().server_cert, 3, 0, 1)}));
  EXPECT_TRUE(full.verified) << full.verify_error;
  EXPECT_TRUE(full.dane);
  PeerInfo sha512 = client_view(chain_server(), dane({tlsa(test_pki().server_cert, 3, 1, 2)}));
  EXPECT_TRUE(sha512.verified) << sha512.verify_error;
  EXPECT_TRUE(sha512.dane);
  PeerInfo exact = client_view(chain_server(), dane({tlsa(test_pki().server_cert, 3, 1, 0)}));
  EXPECT_TRUE(exact.verified) << exact.verify_error;
  EXPECT_TRUE(exact.dane);
}

TEST(Dane, EeMismatchIsNotVerifiedAndSaysSo) {
  // The record of another key: the handshake completes, the peer is not authenticated.
  PeerInfo info = client_view(chain_server(), dane({tlsa(test_pki().other_cert, 3, 1, 1)}));
  EXPECT_FALSE(info.verified);
  EXPECT_FALSE(info.dane);
  EXPECT_EQ(info.verify_error, "certificate matches no TLSA record");
  EXPECT_EQ(info.verify_code, X509_V_ERR_DANE_NO_MATCH);
}

TEST(Dane, OneMatchingRecordAmongSeveralIsEnough) {
  PeerInfo info = client_view(chain_server(), dane({tlsa(test_pki().other_cert, 3, 1, 1),
                                                    tlsa(test_pki().server_cert, 3, 1, 1)}));
  EXPECT_TRUE(info.verified) << info.verify_error;
  EXPECT_TRUE(info.dane);
}

TEST(Dane, PkixValidCertificateMatchingNoRecordIsNotVerified) {
  // Chain to the client's CA store and the right name: PKIX would pass. The TLSA records
  // say otherwise, and they decide.
  PeerVerify verify = dane({tlsa(test_pki().other_cert, 3, 1, 1)}, {kServerName});
  PeerInfo info = client_view(chain_server(), verify);
  EXPECT_FALSE(info.verified);
  EXPECT_FALSE(info.dane);
  EXPECT_EQ(info.verify_error, "certificate matches no TLSA record");
  // The same session under PKIX alone is verified: the records made the difference.
  EXPECT_TRUE(client_view(chain_server(), names({kServerName})).verified);
}

// --- DANE-TA (2 x x): the issuing CA, names checked (RFC 7672 §3.2.2) -----------------

TEST(Dane, TaOnTheIssuingCaWithTheLeafNamingTheMxHostIsVerified) {
  for (std::uint8_t selector : {0, 1}) {
    SCOPED_TRACE(selector);
    // A client without the CA in its store: the trust anchor comes from DNS alone.
    PeerInfo info = client_view(chain_server(),
                                dane({tlsa(test_pki().ca_cert, 2, selector, 1)}),
                                client_ctx(test_pki().self_signed_cert));
    EXPECT_TRUE(info.verified) << info.verify_error;
    EXPECT_TRUE(info.dane);
  }
}

TEST(Dane, TaAcceptsTheBaseDomainAsName) {
  // The leaf names kServerName; here that is the base domain and the MX host is another.
  PeerInfo info = client_view(chain_server(), dane({tlsa(test_pki().ca_cert, 2, 1, 1)},
                                                   {kServerName, "mx.elsewhere.example"}));
  EXPECT_TRUE(info.verified) << info.verify_error;
  EXPECT_TRUE(info.dane);
}

TEST(Dane, TaWithTheLeafNamingAnotherHostIsNotVerified) {
  PeerInfo info = client_view(other_host_server(), dane({tlsa(test_pki().ca_cert, 2, 1, 1)}));
  EXPECT_FALSE(info.verified);
  EXPECT_FALSE(info.dane);
  EXPECT_THAT(info.verify_error, HasSubstr("hostname mismatch"));
}

TEST(Dane, TaOfAnotherCaIsNotVerified) {
  PeerInfo info =
      client_view(chain_server(), dane({tlsa(test_pki().self_signed_cert, 2, 1, 1)}));
  EXPECT_FALSE(info.verified);
  EXPECT_FALSE(info.dane);
  EXPECT_EQ(info.verify_error, "certificate matches no TLSA record");
}

// --- records that cannot be used ----------------------------------------------------

TEST(Dane, OnlyMalformedRecordsMeansNoUsableRecord) {
  DaneRecord short_digest = tlsa(test_pki().server_cert, 3, 1, 1);
  short_digest.data.resize(20);  // not a SHA-256 length: OpenSSL refuses it
  DaneRecord unknown_selector = tlsa(test_pki().server_cert, 3, 1, 1);
  unknown_selector.selector = 7;
  DaneRecord unknown_mtype = tlsa(test_pki().server_cert, 3, 1, 1);
  unknown_mtype.matching_type = 9;
  DaneRecord unknown_usage = tlsa(test_pki().server_cert, 3, 1, 1);
  unknown_usage.usage = 4;
  PeerInfo info = client_view(
      chain_server(), dane({short_digest, unknown_selector, unknown_mtype, unknown_usage}));
  EXPECT_FALSE(info.verified);
  EXPECT_FALSE(info.dane);
  EXPECT_EQ(info.verify_error, "no usable TLSA record");
}

TEST(Dane, PkixUsagesAreNeverUsed) {
  // PKIX-EE (1) and PKIX-TA (0) are unusable for SMTP (RFC 7672 §3.1.3). Delivery filters
  // them out; given anyway, they are skipped - even where OpenSSL would call them a match.
  PeerInfo info = client_view(chain_server(), dane({tlsa(test_pki().server_cert, 1, 1, 1),
                                                    tlsa(test_pki().ca_cert, 0, 1, 1)},
                                                   {kServerName}));
  EXPECT_FALSE(info.verified);
  EXPECT_FALSE(info.dane);
  EXPECT_EQ(info.verify_error, "no usable TLSA record");
}

TEST(Dane, AMalformedRecordBesideAGoodOneIsSkipped) {
  DaneRecord bad = tlsa(test_pki().server_cert, 3, 1, 1);
  bad.data.pop_back();
  PeerInfo info =
      client_view(chain_server(), dane({bad, tlsa(test_pki().server_cert, 3, 1, 1)}));
  EXPECT_TRUE(info.verified) << info.verify_error;
  EXPECT_TRUE(info.dane);
}

TEST(Dane, NeedsAHostNameAsBaseDomain) {
  for (const char* base : {"", "192.0.2.1"}) {
    auto s = TlsSession::create(client_ctx(), Role::Client, base,
                                dane({tlsa(test_pki().server_cert, 3, 1, 1)}, {base}));
    ASSERT_FALSE(s) << base;
    EXPECT_THAT(s.error().message, HasSubstr("TLSA base domain")) << base;
  }
}

TEST(Dane, SniIsTheBaseDomain) {
  auto sctx = chain_server();
  ASSERT_TRUE(sctx);
  static std::string seen;
  SSL_CTX_set_tlsext_servername_callback(
      sctx->get(), +[](SSL* ssl, int*, void*) -> int {
        const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        seen = name != nullptr ? name : "<none>";
        return SSL_TLSEXT_ERR_OK;
      });
  seen.clear();
  // No SNI asked for: DANE still sends the base domain (RFC 7672 §8.1).
  Pair p{make(client_ctx(), Role::Client, "",
              dane({tlsa(test_pki().server_cert, 3, 1, 1)}, {"dest.test.example."})),
         make(sctx, Role::Server)};
  ASSERT_TRUE(p.client && p.server);
  ASSERT_TRUE(handshake(*p.client, *p.server));
  EXPECT_EQ(seen, kBaseDomain);
}

// --- PKIX with several names, and the fingerprint -----------------------------------

TEST(PeerIdentity, PkixAcceptsAnyOfSeveralNames) {
  PeerInfo second = client_view(ca_server_ctx(), names({"wrong.example", kServerName}));
  EXPECT_TRUE(second.verified) << second.verify_error;
  EXPECT_FALSE(second.dane);
  PeerInfo first = client_view(ca_server_ctx(), names({kServerName, "wrong.example"}));
  EXPECT_TRUE(first.verified) << first.verify_error;
  PeerInfo none = client_view(ca_server_ctx(), names({"wrong.example", "also.wrong"}));
  EXPECT_FALSE(none.verified);
  EXPECT_THAT(none.verify_error, HasSubstr("hostname mismatch"));
}

std::string independent_sha256(const std::string& pem_file) {
  X509Ptr cert = load(pem_file);
  EXPECT_TRUE(cert);
  if (!cert) return {};
  std::vector<std::uint8_t> md = digest(der(cert.get(), 0), EVP_sha256());
  std::string hex;
  char buf[3];
  for (std::uint8_t b : md) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    hex += buf;
  }
  return hex;
}

TEST(PeerIdentity, CertSha256IsTheLeafDerDigest) {
  PeerInfo info = client_view(chain_server(), names({kServerName}));
  EXPECT_EQ(info.cert_sha256, independent_sha256(test_pki().server_cert));
  EXPECT_EQ(info.cert_sha256.size(), 64u);
  PeerInfo other = client_view(other_host_server(), names({kServerName}));
  EXPECT_EQ(other.cert_sha256, independent_sha256(test_pki().other_cert));
  EXPECT_FALSE(other.verified);  // a fingerprint is recorded whatever the verdict
}

TEST(PeerIdentity, NoCertificateNoFingerprint) {
  Pair p = connect(client_ctx(), ca_server_ctx());
  ASSERT_TRUE(p.server);
  PeerInfo server_view = p.server->peer_info();  // the client sent no certificate
  EXPECT_EQ(server_view.cert_sha256, "");
  EXPECT_FALSE(server_view.dane);
}

// --- resumption ----------------------------------------------------------------------

struct Resumed {
  PeerInfo first;
  PeerInfo second;
};

// A full handshake under `first`, then a resumption of its session under `second`.
Resumed resume(std::shared_ptr<TlsContext> cctx, std::shared_ptr<TlsContext> sctx,
               const PeerVerify& first, const PeerVerify& second) {
  Resumed r;
  SSL_SESSION* saved = nullptr;
  {
    Pair p = connect(cctx, sctx, first);
    if (!p.client) return r;
    // TLS 1.3 tickets arrive after the handshake.
    EXPECT_EQ(send(*p.server, *p.client, "220 ready\r\n"), "220 ready\r\n");
    r.first = p.client->peer_info();
    saved = p.client->get1_session();
  }
  EXPECT_NE(saved, nullptr);
  if (saved == nullptr) return r;
  Pair p{make(cctx, Role::Client, second.names.front(), second), make(sctx, Role::Server)};
  p.client->set_session(saved);
  SSL_SESSION_free(saved);
  EXPECT_TRUE(handshake(*p.client, *p.server)) << p.client->error();
  r.second = p.client->peer_info();
  EXPECT_TRUE(r.second.resumed) << "the session was not resumed";
  return r;
}

std::shared_ptr<TlsContext> tls12_client() {
  auto cctx = client_ctx();
  if (cctx) {
    EXPECT_EQ(SSL_CTX_set_max_proto_version(cctx->get(), TLS1_2_VERSION), 1);
  }
  return cctx;
}

TEST(DaneResumption, ResumedDaneSessionReportsTheOriginalDaneVerification) {
  PeerVerify verify = dane({tlsa(test_pki().server_cert, 3, 1, 1)});
  for (bool tls12 : {false, true}) {
    SCOPED_TRACE(tls12 ? "TLS 1.2" : "TLS 1.3");
    Resumed r = resume(tls12 ? tls12_client() : client_ctx(), chain_server(), verify, verify);
    EXPECT_TRUE(r.first.dane);
    EXPECT_FALSE(r.first.resumed);
    EXPECT_TRUE(r.second.verified) << r.second.verify_error;
    EXPECT_TRUE(r.second.dane);
    EXPECT_EQ(r.second.cert_sha256, r.first.cert_sha256);
  }
}

TEST(DaneResumption, ResumedUnderOtherRecordsIsNotVerified) {
  // The TLSA RRset changed (or a cache was keyed wrongly): the original match says
  // nothing about the new records.
  PeerVerify before = dane({tlsa(test_pki().server_cert, 3, 1, 1)});
  PeerVerify after = dane({tlsa(test_pki().other_cert, 3, 1, 1)});
  Resumed r = resume(client_ctx(), chain_server(), before, after);
  EXPECT_TRUE(r.first.dane);
  EXPECT_FALSE(r.second.verified);
  EXPECT_FALSE(r.second.dane);
  EXPECT_THAT(r.second.verify_error, HasSubstr("verified for other names or TLSA records"));
}

TEST(DaneResumption, PkixSessionResumedUnderDaneIsNotVerified) {
  Resumed r = resume(client_ctx(), chain_server(), names({kServerName}),
                     dane({tlsa(test_pki().other_cert, 3, 1, 1)}, {kServerName}));
  EXPECT_TRUE(r.first.verified);
  EXPECT_FALSE(r.second.verified);
  EXPECT_FALSE(r.second.dane);
}

TEST(DaneResumption, FailedDaneSessionStaysFailedWhenResumed) {
  PeerVerify verify = dane({tlsa(test_pki().other_cert, 3, 1, 1)});
  Resumed r = resume(client_ctx(), chain_server(), verify, verify);
  EXPECT_FALSE(r.first.verified);
  EXPECT_FALSE(r.second.verified);
  EXPECT_EQ(r.second.verify_error, "certificate matches no TLSA record");
}

TEST(DaneResumption, PkixSessionResumedUnderOtherNamesIsNotVerified) {
  Resumed r = resume(client_ctx(), ca_server_ctx(), names({kServerName}),
                     names({"other.example"}));
  EXPECT_TRUE(r.first.verified);
  EXPECT_FALSE(r.second.verified);
}

}  // namespace
}  // namespace secmx::tls
