// test_pki.hpp - throw-away certificates for the TLS unit tests, made with the OpenSSL C
// API at first use in a fresh temp directory that is removed when the test binary exits.
//
// test_pki() returns paths to: a CA; a server certificate for "mx.test.example" (SAN)
// signed by that CA, and its key, and the same as a chain file with the CA after it (as a
// DANE-TA server sends it); a certificate for "other.test.example" from the same CA with
// its key and chain; a self-signed certificate for "mx.test.example", and its key; and an
// unrelated key (for the "key does not match" case). All keys are EC P-256; rsa_pair()
// adds a self-signed RSA 2048 certificate and its key, made on first use.
// No keys are ever checked in. Generation failure aborts the test binary (ADD_FAILURE
// cannot help a fixture that has nothing to test with).
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>

namespace secmx::tls::testing {

inline constexpr const char* kServerName = "mx.test.example";
inline constexpr const char* kOtherName = "other.test.example";

struct TestPki {
  std::filesystem::path dir;
  std::string ca_cert;
  std::string server_cert;
  std::string server_key;
  std::string server_chain;  // server_cert, then ca_cert
  std::string other_cert;    // kOtherName, from the same CA
  std::string other_cert_key;
  std::string other_chain;   // other_cert, then ca_cert
  std::string self_signed_cert;
  std::string self_signed_key;
  std::string other_key;

  ~TestPki() {
    std::error_code ec;
    if (!dir.empty()) std::filesystem::remove_all(dir, ec);
  }
};

namespace detail {

[[noreturn]] inline void die(const char* what) {
  std::fprintf(stderr, "test PKI: %s failed\n", what);
  std::abort();
}

inline EVP_PKEY* new_key() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) die("EVP_EC_gen");
  return key;
}

inline void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr || X509_add_ext(cert, ext, -1) != 1) die("X509_add_ext");
  X509_EXTENSION_free(ext);
}

// issuer == nullptr: self-signed.
inline X509* new_cert(const char* cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                      bool is_ca, long serial) {
  X509* cert = X509_new();
  if (cert == nullptr) die("X509_new");
  X509_set_version(cert, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600L * 24 * 30);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("secmx test"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert;
  X509_set_issuer_name(cert, X509_get_subject_name(signer));
  add_ext(cert, signer, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) add_ext(cert, signer, NID_authority_key_identifier, "keyid:always");
  if (is_ca) {
    add_ext(cert, signer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(cert, signer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert, signer, NID_ext_key_usage, "serverAuth");
    std::string san = std::string("DNS:") + cn;
    add_ext(cert, signer, NID_subject_alt_name, san.c_str());
  }
  if (X509_sign(cert, issuer_key != nullptr ? issuer_key : key, EVP_sha256()) == 0) {
    die("X509_sign");
  }
  return cert;
}

inline void write_cert(const std::string& path, X509* cert, X509* then = nullptr) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr || PEM_write_X509(f, cert) != 1) die("PEM_write_X509");
  if (then != nullptr && PEM_write_X509(f, then) != 1) die("PEM_write_X509");
  std::fclose(f);
}

inline void write_key(const std::string& path, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr ||
      PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    die("PEM_write_PrivateKey");
  }
  std::fclose(f);
}

inline void make(TestPki& pki) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "secmx-tls-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) die("mkdtemp");
  pki.dir = tmpl;
  auto at = [&](const char* file) { return (pki.dir / file).string(); };

  EVP_PKEY* ca_key = new_key();
  X509* ca = new_cert("secmx test CA", ca_key, nullptr, nullptr, true, 1);
  EVP_PKEY* server_key = new_key();
  X509* server = new_cert(kServerName, server_key, ca, ca_key, false, 2);
  EVP_PKEY* other_host_key = new_key();
  X509* other_host = new_cert(kOtherName, other_host_key, ca, ca_key, false, 4);
  EVP_PKEY* self_key = new_key();
  X509* self = new_cert(kServerName, self_key, nullptr, nullptr, false, 3);
  EVP_PKEY* other_key = new_key();

  pki.ca_cert = at("ca.pem");
  pki.server_cert = at("server.pem");
  pki.server_key = at("server.key");
  pki.server_chain = at("server-chain.pem");
  pki.other_cert = at("other-host.pem");
  pki.other_cert_key = at("other-host.key");
  pki.other_chain = at("other-host-chain.pem");
  pki.self_signed_cert = at("self.pem");
  pki.self_signed_key = at("self.key");
  pki.other_key = at("other.key");
  write_cert(pki.ca_cert, ca);
  write_cert(pki.server_cert, server);
  write_key(pki.server_key, server_key);
  write_cert(pki.server_chain, server, ca);
  write_cert(pki.other_cert, other_host);
  write_key(pki.other_cert_key, other_host_key);
  write_cert(pki.other_chain, other_host, ca);
  write_cert(pki.self_signed_cert, self);
  write_key(pki.self_signed_key, self_key);
  write_key(pki.other_key, other_key);

  X509_free(ca);
  X509_free(server);
  X509_free(other_host);
  EVP_PKEY_free(other_host_key);
  X509_free(self);
  EVP_PKEY_free(ca_key);
  EVP_PKEY_free(server_key);
  EVP_PKEY_free(self_key);
  EVP_PKEY_free(other_key);
}

}  // namespace detail

// Built once per test binary, on first use (not at --gtest_list_tests time).
inline const TestPki& test_pki() {
  // Filled in place: a copy would remove the directory when the original died.
  static TestPki pki;
  static const bool made = (detail::make(pki), true);
  (void)made;
  return pki;
}

// A self-signed RSA certificate for kServerName (first) and its key (second), in the test
// PKI's directory: for RSA suites and for the ECDSA slot's refusals.
inline const std::pair<std::string, std::string>& rsa_pair() {
  static const std::pair<std::string, std::string> files = [] {
    EVP_PKEY* key = EVP_RSA_gen(2048);
    if (key == nullptr) detail::die("EVP_RSA_gen");
    X509* cert = detail::new_cert(kServerName, key, nullptr, nullptr, false, 9);
    std::pair<std::string, std::string> out{(test_pki().dir / "rsa.pem").string(),
                                            (test_pki().dir / "rsa.key").string()};
    detail::write_cert(out.first, cert);
    detail::write_key(out.second, key);
    X509_free(cert);
    EVP_PKEY_free(key);
    return out;
  }();
  return files;
}

}  // namespace secmx::tls::testing
