// extensions_test.cpp - the one definition of what the server offers: the EHLO keywords
// and the parameter checks derived from it agree, in every session situation.
#include "relay/server/extensions.hpp"

#include <gtest/gtest.h>

namespace secmx::server {
namespace {

OfferContext ehlo(bool tls_configured, bool tls_active) {
  return OfferContext{true, tls_configured, tls_active, 1048576};
}

TEST(Extensions, EhloKeywordsInWireOrder) {
  EXPECT_EQ(ehlo_keywords(ehlo(false, false)),
            "\nPIPELINING\nSIZE 1048576\n8BITMIME\nSMTPUTF8\nENHANCEDSTATUSCODES\nDSN\nCHUNKING"
            "\nBINARYMIME");
  EXPECT_EQ(ehlo_keywords(ehlo(true, false)),
            "\nPIPELINING\nSIZE 1048576\n8BITMIME\nSMTPUTF8\nENHANCEDSTATUSCODES\nSTARTTLS\nDSN"
            "\nCHUNKING\nBINARYMIME");
  EXPECT_EQ(ehlo_keywords(ehlo(true, true)),
            "\nPIPELINING\nSIZE 1048576\n8BITMIME\nSMTPUTF8\nENHANCEDSTATUSCODES\nDSN\nCHUNKING"
            "\nBINARYMIME\nREQUIRETLS");
}

TEST(Extensions, NothingOfferedAfterHelo) {
  OfferContext helo{false, true, true, 1048576};
  EXPECT_EQ(ehlo_keywords(helo), "");
  smtp::Offered o = offered(helo);
  EXPECT_FALSE(o.size || o.eightbitmime || o.smtputf8 || o.dsn || o.requiretls || o.chunking ||
               o.auth);
  EXPECT_EQ(o.max_size, 0u);
}

TEST(Extensions, ChecksFollowTheOffer) {
  for (bool configured : {false, true}) {
    for (bool active : {false, true}) {
      OfferContext ctx = ehlo(configured, active);
      std::string keywords = ehlo_keywords(ctx) + "\n";
      smtp::Offered o = offered(ctx);
      auto has = [&](const char* k) {
        return keywords.find("\n" + std::string(k) + "\n") != std::string::npos ||
               keywords.find("\n" + std::string(k) + " ") != std::string::npos;
      };
      EXPECT_EQ(o.size, has("SIZE"));
      EXPECT_EQ(o.eightbitmime, has("8BITMIME"));
      EXPECT_EQ(o.smtputf8, has("SMTPUTF8"));
      EXPECT_EQ(o.dsn, has("DSN"));
      EXPECT_EQ(o.chunking, has("BINARYMIME"));
      EXPECT_EQ(o.requiretls, has("REQUIRETLS"));
      EXPECT_FALSE(o.auth);
      EXPECT_EQ(o.max_size, 1048576u);
    }
  }
}

TEST(Extensions, AuthOnlyUnderTlsWithUsers) {
  for (bool active : {false, true}) {
    for (bool users : {false, true}) {
      OfferContext ctx{true, true, active, 1048576, users};
      std::string keywords = ehlo_keywords(ctx);
      bool offered_auth = keywords.find("\nAUTH PLAIN LOGIN") != std::string::npos;
      EXPECT_EQ(offered_auth, active && users) << active << users;
      EXPECT_EQ(offered(ctx).auth, active && users);
    }
  }
  // After STARTTLS, in wire order: AUTH where STARTTLS was.
  EXPECT_EQ(ehlo_keywords(OfferContext{true, true, true, 1048576, true}),
            "\nPIPELINING\nSIZE 1048576\n8BITMIME\nSMTPUTF8\nENHANCEDSTATUSCODES\n"
            "AUTH PLAIN LOGIN\nDSN\nCHUNKING\nBINARYMIME\nREQUIRETLS");
}

}  // namespace
}  // namespace secmx::server
