// policy_test.cpp - the one Policy and TlsLevel: names, parsing, order, predicates.
#include "relay/model/policy.hpp"

#include <gtest/gtest.h>

#include <string>

namespace secmx::model {
namespace {

TEST(ModelPolicy, NamesRoundTrip) {
  EXPECT_STREQ(to_string(Policy::BES), "BES");
  EXPECT_STREQ(to_string(Policy::SOS), "SOS");
  EXPECT_STREQ(to_string(Policy::HOLD), "HOLD");
  EXPECT_STREQ(to_string(Policy::REJECT), "REJECT");
  for (Policy p : kPolicies) EXPECT_EQ(parse_policy(to_string(p)), p) << to_string(p);
}

TEST(ModelPolicy, StoredValuesNeverChange) {
  // Queue records hold these numbers.
  EXPECT_EQ(static_cast<int>(Policy::BES), 0);
  EXPECT_EQ(static_cast<int>(Policy::SOS), 1);
  EXPECT_EQ(static_cast<int>(Policy::HOLD), 2);
  EXPECT_EQ(static_cast<int>(Policy::REJECT), 3);
  EXPECT_EQ(static_cast<int>(TlsLevel::None), 0);
  EXPECT_EQ(static_cast<int>(TlsLevel::Encrypt), 1);
  EXPECT_EQ(static_cast<int>(TlsLevel::Verify), 2);
}

TEST(ModelPolicy, ParseIgnoresCase) {
  EXPECT_EQ(parse_policy("bes"), Policy::BES);
  EXPECT_EQ(parse_policy("Sos"), Policy::SOS);
  EXPECT_EQ(parse_policy("hOlD"), Policy::HOLD);
  EXPECT_EQ(parse_policy("reject"), Policy::REJECT);
}

TEST(ModelPolicy, ParseRefuses) {
  for (const char* bad : {"", " BES", "BES ", "BE", "BESS", "SOS\n", "none", "S0S"}) {
    EXPECT_FALSE(parse_policy(bad).has_value()) << bad;
  }
  EXPECT_FALSE(parse_policy(std::string("SOS\0", 4)).has_value());
}

TEST(ModelPolicy, StrengthOrder) {
  EXPECT_LT(strength(Policy::BES), strength(Policy::SOS));
  EXPECT_LT(strength(Policy::SOS), strength(Policy::HOLD));
  EXPECT_LT(strength(Policy::HOLD), strength(Policy::REJECT));
  EXPECT_LT(Policy::BES, Policy::REJECT);
  EXPECT_EQ(stronger(Policy::SOS, Policy::BES), Policy::SOS);
  EXPECT_EQ(stronger(Policy::SOS, Policy::HOLD), Policy::HOLD);
  EXPECT_EQ(stronger(Policy::REJECT, Policy::HOLD), Policy::REJECT);
  EXPECT_EQ(stronger(Policy::BES, Policy::BES), Policy::BES);
  EXPECT_TRUE(is_sensitive(Policy::SOS));
  EXPECT_TRUE(is_sensitive(Policy::HOLD));
  EXPECT_FALSE(is_sensitive(Policy::BES));
  EXPECT_FALSE(is_sensitive(Policy::REJECT));
}

TEST(ModelTlsLevel, NamesRoundTrip) {
  EXPECT_STREQ(to_string(TlsLevel::None), "none");
  EXPECT_STREQ(to_string(TlsLevel::Encrypt), "encrypt");
  EXPECT_STREQ(to_string(TlsLevel::Verify), "verify");
  for (TlsLevel l : kTlsLevels) EXPECT_EQ(parse_tls_level(to_string(l)), l) << to_string(l);
}

TEST(ModelTlsLevel, ParseIgnoresCaseAndRefuses) {
  EXPECT_EQ(parse_tls_level("NONE"), TlsLevel::None);
  EXPECT_EQ(parse_tls_level("Encrypt"), TlsLevel::Encrypt);
  EXPECT_EQ(parse_tls_level("VERIFY"), TlsLevel::Verify);
  for (const char* bad : {"", "may", "dane", "encrypt ", "verified", "opportunistic", "SOS"}) {
    EXPECT_FALSE(parse_tls_level(bad).has_value()) << bad;
  }
}

TEST(ModelTlsLevel, OrderAndPredicates) {
  EXPECT_LT(TlsLevel::None, TlsLevel::Encrypt);
  EXPECT_LT(TlsLevel::Encrypt, TlsLevel::Verify);
  EXPECT_EQ(stronger(TlsLevel::Encrypt, TlsLevel::Verify), TlsLevel::Verify);
  EXPECT_EQ(stronger(TlsLevel::Encrypt, TlsLevel::None), TlsLevel::Encrypt);
  EXPECT_FALSE(must_encrypt(TlsLevel::None));
  EXPECT_TRUE(must_encrypt(TlsLevel::Encrypt));
  EXPECT_TRUE(must_encrypt(TlsLevel::Verify));
  EXPECT_FALSE(must_verify(TlsLevel::None));
  EXPECT_FALSE(must_verify(TlsLevel::Encrypt));
  EXPECT_TRUE(must_verify(TlsLevel::Verify));
}

}  // namespace
}  // namespace secmx::model
