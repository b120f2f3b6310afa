// The AUTH exchange (RFC 4954, RFC 4616): every step and every reply code it can give.
#include "relay/smtp/sasl.hpp"

#include <gtest/gtest.h>

#include <string>

namespace secmx::smtp {
namespace {

using Kind = SaslStep::Kind;

// base64 of "\0user\0secret" and of "user" / "secret".
constexpr const char* kPlainUserSecret = "AHVzZXIAc2VjcmV0";
constexpr const char* kUser = "dXNlcg==";
constexpr const char* kSecret = "c2VjcmV0";

void expect_error(const SaslStep& s, int code, const char* enhanced) {
  ASSERT_EQ(s.kind, Kind::Error);
  EXPECT_EQ(s.error.code, code);
  EXPECT_EQ(s.error.enhanced, enhanced);
}

TEST(SaslTest, PlainWithInitialResponseGivesCredentials) {
  SaslExchange x;
  SaslStep s = x.start(std::string("PLAIN ") + kPlainUserSecret);
  ASSERT_EQ(s.kind, Kind::Credentials);
  EXPECT_EQ(s.user, "user");
  EXPECT_EQ(s.password, "secret");
  EXPECT_EQ(x.mechanism(), SaslMechanism::Plain);
}

TEST(SaslTest, PlainWithoutInitialResponseSendsEmptyChallenge) {
  SaslExchange x;
  SaslStep s = x.start("plain");
  ASSERT_EQ(s.kind, Kind::Challenge);
  EXPECT_EQ(s.challenge, "");
  s = x.respond(kPlainUserSecret);
  ASSERT_EQ(s.kind, Kind::Credentials);
  EXPECT_EQ(s.user, "user");
  EXPECT_EQ(s.password, "secret");
}

TEST(SaslTest, PlainAuthzidEqualToAuthcidIsAccepted) {
  SaslExchange x;  // "user\0user\0secret"
  SaslStep s = x.start("PLAIN dXNlcgB1c2VyAHNlY3JldA==");
  ASSERT_EQ(s.kind, Kind::Credentials);
  EXPECT_EQ(s.user, "user");
}

TEST(SaslTest, PlainForSomeoneElseIsRefused535) {
  SaslExchange x;  // "boss\0user\0secret"
  expect_error(x.start("PLAIN Ym9zcwB1c2VyAHNlY3JldA=="), 535, "5.7.8");
}

TEST(SaslTest, PlainWithoutSeparatorsIsMalformed) {
  SaslExchange x;  // "usersecret"
  expect_error(x.start("PLAIN dXNlcnNlY3JldA=="), 501, "5.5.2");
  // "\0\0secret": no user name
  expect_error(x.start("PLAIN AABzZWNyZXQ="), 501, "5.5.2");
  // "\0user\0sec\0ret": a NUL in the password
  expect_error(x.start("PLAIN AHVzZXIAc2VjAHJldA=="), 501, "5.5.2");
}

TEST(SaslTest, EmptyInitialResponseIsEqualsSign) {
  SaslExchange x;
  // "=" is a zero-length response: for PLAIN that is malformed, but decoded, not a
  // base64 error.
  expect_error(x.start("PLAIN ="), 501, "5.5.2");
  EXPECT_EQ(x.start("PLAIN =").error.text, "Error: invalid authentication message");
}

TEST(SaslTest, LoginAsksForUserThenPassword) {
  SaslExchange x;
  SaslStep s = x.start("LOGIN");
  ASSERT_EQ(s.kind, Kind::Challenge);
  EXPECT_EQ(s.challenge, "VXNlcm5hbWU6");
  s = x.respond(kUser);
  ASSERT_EQ(s.kind, Kind::Challenge);
  EXPECT_EQ(s.challenge, "UGFzc3dvcmQ6");
  s = x.respond(kSecret);
  ASSERT_EQ(s.kind, Kind::Credentials);
  EXPECT_EQ(s.user, "user");
  EXPECT_EQ(s.password, "secret");
  EXPECT_EQ(x.mechanism(), SaslMechanism::Login);
}

TEST(SaslTest, LoginWithInitialResponseSkipsUserPrompt) {
  SaslExchange x;
  SaslStep s = x.start(std::string("LOGIN ") + kUser);
  ASSERT_EQ(s.kind, Kind::Challenge);
  EXPECT_EQ(s.challenge, "UGFzc3dvcmQ6");
  s = x.respond(kSecret);
  ASSERT_EQ(s.kind, Kind::Credentials);
  EXPECT_EQ(s.user, "user");
}

TEST(SaslTest, LoginEmptyPasswordIsCredentials) {
  SaslExchange x;
  x.start("LOGIN");
  x.respond(kUser);
  SaslStep s = x.respond("");
  ASSERT_EQ(s.kind, Kind::Credentials);
  EXPECT_EQ(s.password, "");
}

TEST(SaslTest, LoginEmptyUserIsMalformed) {
  SaslExchange x;
  x.start("LOGIN");
  expect_error(x.respond(""), 501, "5.5.2");
}

TEST(SaslTest, StarCancels501) {
  SaslExchange x;
  x.start("LOGIN");
  SaslStep s = x.respond("*");
  expect_error(s, 501, "5.0.0");
  // Over: a further line is not part of any exchange.
  expect_error(x.respond(kUser), 503, "5.5.1");
  x.start("PLAIN");
  expect_error(x.respond("*"), 501, "5.0.0");
}

TEST(SaslTest, BadBase64Is501552) {
  for (const char* bad : {"dXNlcg", "dXNlcg=", "dX!lcg==", "dXNl cg==", "dXNlcg==dXNl",
                          "dW==", "=AAA", "dXNlcg=x"}) {
    SaslExchange x;
    x.start("LOGIN");
    expect_error(x.respond(bad), 501, "5.5.2");
  }
  SaslExchange x;
  expect_error(x.start("PLAIN %%%%"), 501, "5.5.2");
}

TEST(SaslTest, UnknownMechanismIs504) {
  SaslExchange x;
  expect_error(x.start("CRAM-MD5"), 504, "5.5.4");
  expect_error(x.start("GSSAPI abc="), 504, "5.5.4");
}

TEST(SaslTest, SyntaxErrorsAre501554) {
  SaslExchange x;
  expect_error(x.start(""), 501, "5.5.4");
  expect_error(x.start("PLAIN "), 501, "5.5.4");
  expect_error(x.start("PLAIN a b"), 501, "5.5.4");
}

TEST(SaslTest, OverlongValuesAreRefused) {
  SaslExchange x;
  x.start("LOGIN");
  expect_error(x.respond(std::string(kMaxSaslLine + 4, 'A')), 501, "5.5.2");
}

}  // namespace
}  // namespace secmx::smtp
