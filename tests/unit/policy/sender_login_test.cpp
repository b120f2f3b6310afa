// sender_login_test.cpp - policy::sender_owned(): which MAIL FROM an authenticated user
// may use under the [smtp.auth] senders file.
#include "relay/policy/sender_login.hpp"

#include <gtest/gtest.h>

namespace secmx::policy {
namespace {

config::SenderLoginConfig logins() {
  config::SenderLoginConfig c;
  c.owners = {{1, "scanner", {"scanner@agency.example"}},
              {2, "hr", {"@hr.agency.example", "payroll-*@agency.example"}},
              {3, "anyone-at", {"*@*.example.org"}}};
  return c;
}

TEST(SenderLogin, ExactAddressLocalPartExactDomainCaseInsensitive) {
  auto c = logins();
  EXPECT_TRUE(sender_owned(c, "scanner", "scanner@agency.example"));
  EXPECT_TRUE(sender_owned(c, "scanner", "scanner@AGENCY.Example."));
  EXPECT_FALSE(sender_owned(c, "scanner", "Scanner@agency.example"));
  EXPECT_FALSE(sender_owned(c, "scanner", "boss@agency.example"));
  EXPECT_FALSE(sender_owned(c, "scanner", "scanner@agency.example.net"));
}

TEST(SenderLogin, DomainAndGlobPatterns) {
  auto c = logins();
  EXPECT_TRUE(sender_owned(c, "hr", "anna@hr.agency.example"));
  EXPECT_TRUE(sender_owned(c, "hr", "anna@HR.Agency.Example"));
  EXPECT_FALSE(sender_owned(c, "hr", "anna@sub.hr.agency.example"));  // @domain is exact
  EXPECT_TRUE(sender_owned(c, "hr", "payroll-march@agency.example"));
  EXPECT_FALSE(sender_owned(c, "hr", "payroll@agency.example"));
  EXPECT_TRUE(sender_owned(c, "anyone-at", "x@mail.example.org"));
  EXPECT_FALSE(sender_owned(c, "anyone-at", "x@example.org"));
}

TEST(SenderLogin, AUserWithoutALineOwnsNothingAndNamesAreExact) {
  auto c = logins();
  EXPECT_FALSE(sender_owned(c, "nobody", "scanner@agency.example"));
  EXPECT_FALSE(sender_owned(c, "SCANNER", "scanner@agency.example"));
  EXPECT_FALSE(sender_owned(c, "hr", "scanner@agency.example"));  // another user's address
}

TEST(SenderLogin, TheNullSenderIsAlwaysAllowed) {
  auto c = logins();
  EXPECT_TRUE(sender_owned(c, "hr", ""));
  EXPECT_TRUE(sender_owned(c, "nobody", ""));
}

}  // namespace
}  // namespace secmx::policy
