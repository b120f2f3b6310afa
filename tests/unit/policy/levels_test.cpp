// levels_test.cpp - level names, their normalisation, the DLM mapping, and agreement with
// the config loader's list of levels.
#include "relay/model/levels.hpp"

#include <gtest/gtest.h>

#include "relay/config/config_reader.hpp"

namespace secmx::model {
namespace {

struct LevelCase {
  const char* text;
  std::optional<Level> want;
};

class ParseLevel : public ::testing::TestWithParam<LevelCase> {};

TEST_P(ParseLevel, Reads) {
  const auto& c = GetParam();
  EXPECT_EQ(parse_level(c.text), c.want) << c.text;
}

INSTANTIATE_TEST_SUITE_P(
    Names, ParseLevel,
    ::testing::Values(
        LevelCase{"UNCLASSIFIED", Level::Unclassified}, LevelCase{"unclassified", Level::Unclassified},
        LevelCase{"IN-CONFIDENCE", Level::InConfidence}, LevelCase{"In Confidence", Level::InConfidence},
        LevelCase{"in  -  confidence", Level::InConfidence}, LevelCase{"SENSITIVE", Level::Sensitive},
        LevelCase{"RESTRICTED", Level::Restricted}, LevelCase{"Confidential", Level::Confidential},
        LevelCase{"SECRET", Level::Secret}, LevelCase{"TOP SECRET", Level::TopSecret},
        LevelCase{"TOP-SECRET", Level::TopSecret}, LevelCase{"top\tsecret", Level::TopSecret},
        LevelCase{"UNOFFICIAL", Level::Unofficial}, LevelCase{"OFFICIAL", Level::Official},
        LevelCase{"OFFICIAL:Sensitive", Level::OfficialSensitive},
        LevelCase{"OFFICIAL: Sensitive", Level::OfficialSensitive},
        LevelCase{"official : SENSITIVE", Level::OfficialSensitive},
        LevelCase{"PROTECTED", Level::Protected}, LevelCase{"", std::nullopt},
        LevelCase{"TOPSECRET", std::nullopt}, LevelCase{"OFFICIAL Sensitive", std::nullopt},
        LevelCase{"SECRET!", std::nullopt}, LevelCase{"FOUO", std::nullopt}));

TEST(Levels, OrderPutsEquivalentsSideBySide) {
  EXPECT_LT(rank(Level::Unofficial), rank(Level::Unclassified));
  EXPECT_LT(rank(Level::InConfidence), rank(Level::Restricted));
  EXPECT_LT(rank(Level::OfficialSensitive), rank(Level::Protected));
  EXPECT_LT(rank(Level::Restricted), rank(Level::Confidential));
  EXPECT_LT(rank(Level::Confidential), rank(Level::Secret));
  EXPECT_LT(rank(Level::Secret), rank(Level::TopSecret));
}

TEST(Levels, CanonicalNamesRoundTripAndHaveNoSpaces) {
  for (int i = 0; i < kLevelCount; ++i) {
    auto l = static_cast<Level>(i);
    std::string_view name = to_string(l);
    EXPECT_EQ(name.find(' '), std::string_view::npos) << name;
    EXPECT_EQ(parse_level(name), l) << name;
  }
}

TEST(Levels, EveryLevelTheConfigAcceptsIsALevelHere) {
  // The loader validates rules with its own list; the engine must know every one of them,
  // and the loader must accept every canonical name the engine prints.
  for (int i = 0; i < kLevelCount; ++i) {
    std::string_view name = to_string(static_cast<Level>(i));
    EXPECT_TRUE(config::detail::known_classification(name)) << name;
  }
  for (const char* n : {"TOP SECRET", "top-secret", "In Confidence", "OFFICIAL: Sensitive",
                        "TOPSECRET", "OFFICIAL SENSITIVE", "FOUO", "RESTRICTED"}) {
    EXPECT_EQ(config::detail::known_classification(n), parse_level(n).has_value()) << n;
  }
}

TEST(Levels, Dlm2012MapsToThe2018Levels) {
  EXPECT_EQ(parse_dlm("For-Official-Use-Only"), Level::Official);
  EXPECT_EQ(parse_dlm("Sensitive"), Level::OfficialSensitive);
  EXPECT_EQ(parse_dlm("Sensitive:Personal"), Level::OfficialSensitive);
  EXPECT_EQ(parse_dlm("Sensitive:Legal"), Level::OfficialSensitive);
  EXPECT_EQ(parse_dlm("Sensitive:Cabinet"), Level::OfficialSensitive);
  EXPECT_EQ(parse_dlm("Sensitive:Other"), std::nullopt);
  EXPECT_EQ(parse_dlm(std::string(100, 'A')), std::nullopt);
}

}  // namespace
}  // namespace secmx::model
