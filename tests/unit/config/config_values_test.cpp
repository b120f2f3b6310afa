// config_values_test.cpp - parse_size(), parse_duration() and the to_string() helpers.
#include <gtest/gtest.h>

#include <limits>

#include "relay/config/config.hpp"

namespace secmx::config {
namespace {

using namespace std::chrono_literals;

TEST(ParseSize, Accepts) {
  const std::pair<const char*, std::uint64_t> cases[] = {
      {"0", 0},
      {"1000", 1000},
      {"1000B", 1000},
      {"512KiB", 512ull << 10},
      {"10KB", 10'000},
      {"50MiB", 50ull << 20},
      {"10MB", 10'000'000},
      {"50 MiB", 50ull << 20},
      {"50mib", 50ull << 20},
      {"4GiB", 4ull << 30},
      {"2GB", 2'000'000'000},
      {"1TiB", 1ull << 40},
      {"3TB", 3'000'000'000'000},
      {"18446744073709551615", std::numeric_limits<std::uint64_t>::max()},
      {"16777215TiB", 16777215ull << 40},
  };
  for (auto [in, want] : cases) {
    auto got = parse_size(in);
    ASSERT_TRUE(got.has_value()) << in;
    EXPECT_EQ(*got, want) << in;
  }
}

TEST(ParseSize, Rejects) {
  for (const char* bad : {"",
                          " ",
                          "-1",
                          "-5MiB",
                          "+5",
                          "MiB",
                          "5XB",
                          "5K",
                          "5M",
                          "5G",
                          "1.5MiB",
                          "50MiB ",
                          " 50MiB",
                          "50 ",
                          "5 0",
                          "0x10",
                          "18446744073709551616",
                          "16777216TiB",
                          "99999999999999999999KiB",
                          "5MiBB"}) {
    EXPECT_FALSE(parse_size(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(ParseDuration, Accepts) {
  const std::pair<const char*, Duration> cases[] = {
      {"0", 0ms},      {"0s", 0ms},      {"250ms", 250ms},
      {"90s", 90s},    {"5m", 5min},     {"1h", 1h},
      {"5d", 24h * 5}, {"1h30m", 90min}, {"1m30s500ms", 90'500ms},
      {"2d12h", 60h},
  };
  for (auto [in, want] : cases) {
    auto got = parse_duration(in);
    ASSERT_TRUE(got.has_value()) << in;
    EXPECT_EQ(got->count(), want.count()) << in;
  }
}

TEST(ParseDuration, Rejects) {
  for (const char* bad :
       {"", " ", "5", "10", "-5m", "5x", "m", "5 m", "1h30", "1.5h", "5M", "5min", "5mss", "h1",
        "5m ", "99999999999999999999s", "106751991168d", "9223372036854775807ms1ms"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << "'" << bad << "'";
  }
  // The largest representable value still parses.
  EXPECT_TRUE(parse_duration("9223372036854775807ms").has_value());
}

TEST(ConfigToString, ActionsLevelsEndpointsIssues) {
  EXPECT_STREQ(to_string(model::Policy::BES), "BES");
  EXPECT_STREQ(to_string(model::Policy::SOS), "SOS");
  EXPECT_STREQ(to_string(model::Policy::HOLD), "HOLD");
  EXPECT_STREQ(to_string(model::Policy::REJECT), "REJECT");
  EXPECT_STREQ(to_string(model::TlsLevel::None), "none");
  EXPECT_STREQ(to_string(model::TlsLevel::Encrypt), "encrypt");
  EXPECT_STREQ(to_string(model::TlsLevel::Verify), "verify");
  EXPECT_EQ((Endpoint{"127.0.0.1", 2525}).to_string(), "127.0.0.1:2525");
  EXPECT_EQ((Endpoint{"::1", 2525}).to_string(), "[::1]:2525");
  EXPECT_EQ((Issue{"etc/x.toml", 7, "unknown key 'a'"}).to_string(),
            "etc/x.toml:7: unknown key 'a'");
  EXPECT_EQ((Issue{"etc/x.toml", 0, "cannot read"}).to_string(), "etc/x.toml: cannot read");
}

}  // namespace
}  // namespace secmx::config
