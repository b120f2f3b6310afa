// base64_test.cpp - the one base64 decoder: exact for SASL (padding required, nothing under
// it), lenient for RFC 2047 'B' words (padding optional); what both refuse.
#include "relay/common/base64.hpp"

#include <gtest/gtest.h>

#include <string>

namespace secmx {
namespace {

TEST(Base64, DecodesStrictly) {
  std::string out;
  EXPECT_TRUE(base64_decode("", out));
  EXPECT_EQ(out, "");
  EXPECT_TRUE(base64_decode("YQ==", out));
  EXPECT_EQ(out, "a");
  EXPECT_TRUE(base64_decode("YWI=", out));
  EXPECT_EQ(out, "ab");
  EXPECT_TRUE(base64_decode("YWJj", out));
  EXPECT_EQ(out, "abc");
  EXPECT_FALSE(base64_decode("YR==", out));  // non-zero bits under the padding
  EXPECT_FALSE(base64_decode("YWJ=YWJj", out));
}

TEST(Base64, StrictRefusesWhatOnlyLenientTakes) {
  std::string out;
  for (const char* in : {"YQ", "YWI", "YR==", "YQ=", "YWJjZA"}) {
    SCOPED_TRACE(in);
    EXPECT_FALSE(base64_decode(in, out, Base64Padding::Required));
    EXPECT_TRUE(base64_decode(in, out, Base64Padding::Optional));
  }
  ASSERT_TRUE(base64_decode("YWI", out, Base64Padding::Optional));
  EXPECT_EQ(out, "ab");
  ASSERT_TRUE(base64_decode("YR==", out, Base64Padding::Optional));
  EXPECT_EQ(out, "a");  // the bits under the padding ignored
}

TEST(Base64, BothRefuse) {
  std::string out;
  for (const char* in : {"Y", "YWJjZ", "Y===", "====", "YW=I", "YW J", "YW\r\nJj", "YW-_"}) {
    for (Base64Padding p : {Base64Padding::Required, Base64Padding::Optional}) {
      SCOPED_TRACE(in);
      EXPECT_FALSE(base64_decode(in, out, p));
    }
  }
}

TEST(Base64, ReplacesWhatOutHeld) {
  std::string out = "old";
  ASSERT_TRUE(base64_decode("YWJj", out, Base64Padding::Optional));
  EXPECT_EQ(out, "abc");
}

}  // namespace
}  // namespace secmx
