// idna_test.cpp - the one form domains are looked up and compared in (A-labels).
#include "relay/common/idna.hpp"

#include <gtest/gtest.h>

namespace secmx {
namespace {

TEST(LookupName, ALabelsForInternationalizedNamesAsciiNamesNormalised) {
  EXPECT_EQ(lookup_name("b\xc3\xbc" "cher.test"), "xn--bcher-kva.test");
  EXPECT_EQ(lookup_name("B\xc3\x9c" "cher.Test."), "xn--bcher-kva.test");  // "BÜcher": case-folded
  EXPECT_EQ(lookup_name("m\xc4\x81ori.nz"), "xn--mori-qsa.nz");           // "māori.nz"
  EXPECT_EQ(lookup_name("D.Test."), "d.test");
  EXPECT_EQ(lookup_name("xn--bcher-kva.test"), "xn--bcher-kva.test");
  EXPECT_FALSE(lookup_name("\xe2\x98\x95.test").has_value());  // a symbol: not IDNA2008
  EXPECT_FALSE(lookup_name("b\xff" "cher.test").has_value());   // not UTF-8
}

TEST(NonAscii, AnyByteAbove0x7f) {
  EXPECT_FALSE(has_non_ascii("plain.example"));
  EXPECT_TRUE(has_non_ascii("b\xc3\xbc" "cher.example"));
  EXPECT_TRUE(has_non_ascii("\xff"));
}

}  // namespace
}  // namespace secmx
