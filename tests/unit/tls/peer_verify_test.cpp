// peer_verify_test.cpp - verify_key(): equal for the same check, different otherwise.
#include "relay/tls/peer_verify.hpp"

#include <gtest/gtest.h>

namespace secmx::tls {
namespace {

DaneRecord record(std::uint8_t usage, std::uint8_t selector, std::uint8_t mtype,
                  std::vector<std::uint8_t> data) {
  return DaneRecord{usage, selector, mtype, std::move(data)};
}

TEST(VerifyKey, IsShortLowerCaseHex) {
  std::string key = verify_key(PeerVerify{{"mx.example"}, {}});
  EXPECT_EQ(key.size(), 32u);
  EXPECT_EQ(key.find_first_not_of("0123456789abcdef"), std::string::npos) << key;
  EXPECT_EQ(key, verify_key(PeerVerify{{"mx.example"}, {}}));  // stable
}

TEST(VerifyKey, RecordOrderCaseAndFinalDotDoNotCount) {
  PeerVerify a{{"example.org", "mx.example.org"},
               {record(3, 1, 1, {1, 2, 3}), record(2, 0, 1, {4, 5})}};
  PeerVerify b{{"Example.ORG.", "mx.example.org."},
               {record(2, 0, 1, {4, 5}), record(3, 1, 1, {1, 2, 3})}};
  EXPECT_EQ(verify_key(a), verify_key(b));
}

TEST(VerifyKey, DiffersWhenTheCheckDiffers) {
  PeerVerify base{{"example.org", "mx.example.org"}, {record(3, 1, 1, {1, 2, 3})}};
  const std::string key = verify_key(base);

  PeerVerify swapped = base;
  std::swap(swapped.names[0], swapped.names[1]);  // the first name is the SNI/base domain
  EXPECT_NE(verify_key(swapped), key);

  PeerVerify fewer = base;
  fewer.names.pop_back();
  EXPECT_NE(verify_key(fewer), key);

  PeerVerify other_data = base;
  other_data.tlsa[0].data = {1, 2, 4};
  EXPECT_NE(verify_key(other_data), key);

  PeerVerify other_usage = base;
  other_usage.tlsa[0].usage = 2;
  EXPECT_NE(verify_key(other_usage), key);

  PeerVerify pkix = base;
  pkix.tlsa.clear();
  EXPECT_NE(verify_key(pkix), key);

  // Length prefixes keep names from running into each other.
  EXPECT_NE(verify_key(PeerVerify{{"ab", "c"}, {}}), verify_key(PeerVerify{{"a", "bc"}, {}}));
  EXPECT_NE(verify_key(PeerVerify{{}, {}}), verify_key(PeerVerify{{""}, {}}));
}

}  // namespace
}  // namespace secmx::tls
