// tls_ecdsa_config_test.cpp - [smtp] tls_ecdsa_cert / tls_ecdsa_key and
// tls_ticket_lifetime: read, resolved like tls_cert, and every refusal at its "file:line"
// (half a pair, a key that does not match, an RSA certificate in the ECDSA slot).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "relay/config/config.hpp"
#include "tests/unit/config/config_file.hpp"
#include "tests/unit/temp_dir.hpp"
#include "tests/unit/tls/test_pki.hpp"

namespace secmx::config {
namespace {

using tls::testing::rsa_pair;
using tls::testing::test_pki;

std::string line(const std::string& key, const std::string& value) {
  return key + " = \"" + value + "\"\n";
}

// Line 1 is the hostname; line 2 "[smtp]"; line 3 tls_cert, line 4 tls_key; `rest` from
// line 5.
struct SmtpTlsFile : test_support::ConfigFile {
  explicit SmtpTlsFile(const std::string& rest)
      : ConfigFile("[smtp]\n" + line("tls_cert", rsa_pair().first) +
                   line("tls_key", rsa_pair().second) + rest) {}
};

TEST(TlsEcdsaConfig, PairAndLifetimeRead) {
  SmtpTlsFile f(line("tls_ecdsa_cert", test_pki().server_cert) +
                line("tls_ecdsa_key", test_pki().server_key) + "tls_ticket_lifetime = \"6h\"\n");
  auto cfg = load_config(f.path());
  ASSERT_TRUE(cfg.ok()) << cfg.error().front().to_string();
  EXPECT_EQ(cfg->smtp.tls.ecdsa_cert, test_pki().server_cert);
  EXPECT_EQ(cfg->smtp.tls.ecdsa_key, test_pki().server_key);
  EXPECT_EQ(cfg->smtp.tls.ticket_lifetime, std::chrono::hours(6));
}

TEST(TlsEcdsaConfig, DefaultsNoEcdsaAndTwelveHourTickets) {
  SmtpTlsFile f("");
  auto cfg = load_config(f.path());
  ASSERT_TRUE(cfg.ok()) << cfg.error().front().to_string();
  EXPECT_EQ(cfg->smtp.tls.ecdsa_cert, "");
  EXPECT_EQ(cfg->smtp.tls.ticket_lifetime, std::chrono::hours(12));
}

TEST(TlsEcdsaConfig, RelativePathsAreTakenFromTheConfigDirectory) {
  test::TempDir dir;
  std::string text;
  {
    std::ifstream c(test_pki().server_cert), k(test_pki().server_key);
    std::stringstream cs, ks;
    cs << c.rdbuf();
    ks << k.rdbuf();
    dir.write("tls/ecdsa.pem", cs.str());
    dir.write("tls/ecdsa.key", ks.str());
  }
  std::string path = dir.write(
      "relay.toml", "[smtp]\n" + line("tls_cert", rsa_pair().first) +
                        line("tls_key", rsa_pair().second) +
                        line("tls_ecdsa_cert", "tls/ecdsa.pem") +
                        line("tls_ecdsa_key", "./tls/ecdsa.key"));
  auto cfg = load_config(path);
  ASSERT_TRUE(cfg.ok()) << cfg.error().front().to_string();
  EXPECT_EQ(cfg->smtp.tls.ecdsa_cert, dir.path() + "/tls/ecdsa.pem");
  EXPECT_EQ(cfg->smtp.tls.ecdsa_key, dir.path() + "/tls/ecdsa.key");
}

TEST(TlsEcdsaConfig, HalfAPairAtItsLine) {
  SmtpTlsFile cert_only(line("tls_ecdsa_cert", test_pki().server_cert));
  EXPECT_EQ(cert_only.issues(),
            (std::vector<std::string>{cert_only.path() +
                                      ":5: smtp.tls_ecdsa_cert: tls_ecdsa_key must be set too "
                                      "(both or neither)"}));
  SmtpTlsFile key_only("banner = \"x\"\n" + line("tls_ecdsa_key", test_pki().server_key));
  EXPECT_EQ(key_only.issues(),
            (std::vector<std::string>{key_only.path() +
                                      ":6: smtp.tls_ecdsa_key: tls_ecdsa_cert must be set too "
                                      "(both or neither)"}));
}

TEST(TlsEcdsaConfig, KeyThatDoesNotMatchAtTheKeyLine) {
  SmtpTlsFile f(line("tls_ecdsa_cert", test_pki().server_cert) +
                line("tls_ecdsa_key", test_pki().other_key));
  auto issues = f.issues();
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0], f.path() + ":6: smtp.tls_ecdsa_key: private key '" + test_pki().other_key +
                           "' does not match certificate '" + test_pki().server_cert + "'");
}

TEST(TlsEcdsaConfig, RsaCertificateInTheEcdsaSlotAtTheCertLine) {
  SmtpTlsFile f(line("tls_ecdsa_cert", rsa_pair().first) +
                line("tls_ecdsa_key", rsa_pair().second));
  auto issues = f.issues();
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].rfind(f.path() + ":5: smtp.tls_ecdsa_cert: '" + rsa_pair().first +
                                "' is not an ECDSA certificate (its key is RSA)",
                            0),
            0u)
      << issues[0];
}

TEST(TlsEcdsaConfig, NotPemAndUnreadable) {
  SmtpTlsFile f("");
  std::string junk = f.dir().write("junk.pem", "not a certificate\n");
  SmtpTlsFile g(line("tls_ecdsa_cert", junk) + line("tls_ecdsa_key", "/nonexistent/ecdsa.key"));
  auto issues = g.issues();
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0], g.path() +
                           ":6: cannot read tls_ecdsa_key '/nonexistent/ecdsa.key': No such "
                           "file or directory");
  SmtpTlsFile h(line("tls_ecdsa_cert", junk) + line("tls_ecdsa_key", test_pki().server_key));
  EXPECT_EQ(h.issues(), (std::vector<std::string>{h.path() + ":5: smtp.tls_ecdsa_cert: no PEM "
                                                              "certificate in '" + junk + "'"}));
}

TEST(TlsEcdsaConfig, EcdsaPairNeedsTheMainPair) {
  test::TempDir dir;
  std::string path = dir.write("relay.toml", "[smtp]\n" +
                                                 line("tls_ecdsa_cert", test_pki().server_cert) +
                                                 line("tls_ecdsa_key", test_pki().server_key));
  auto r = load_config(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().front().to_string(),
            path + ":2: smtp.tls_ecdsa_cert: needs tls_cert and tls_key (the ECDSA pair is "
                   "served beside them)");
}

TEST(TlsEcdsaConfig, TicketLifetimeBounds) {
  SmtpTlsFile f("tls_ticket_lifetime = \"8d\"\n");
  EXPECT_EQ(f.issues(), (std::vector<std::string>{
                            f.path() + ":5: smtp.tls_ticket_lifetime: must be at most 7d (TLS "
                                       "1.3 allows no longer ticket)"}));
  SmtpTlsFile g("tls_ticket_lifetime = \"0s\"\n");
  ASSERT_EQ(g.issues().size(), 1u);
  EXPECT_EQ(g.issues()[0].rfind(g.path() + ":5: smtp.tls_ticket_lifetime:", 0), 0u)
      << g.issues()[0];
}

}  // namespace
}  // namespace secmx::config
