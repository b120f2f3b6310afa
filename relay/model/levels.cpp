// levels.cpp - level names, their normalisation and the 2012.3 DLM mapping.
//
// The one list of levels: the config loader validates rule and marker levels with
// parse_level() too (config::detail::known_classification), so a level --check accepts
// is always one the marking parser and the rules know.
#include "relay/model/levels.hpp"

#include <array>
#include <cctype>

namespace secmx::model {
namespace {

struct Name {
  std::string_view normalised;
  Level level;
};

constexpr std::array<Name, kLevelCount> kNames = {{
    {"UNOFFICIAL", Level::Unofficial},
    {"UNCLASSIFIED", Level::Unclassified},
    {"OFFICIAL", Level::Official},
    {"IN CONFIDENCE", Level::InConfidence},
    {"OFFICIAL:SENSITIVE", Level::OfficialSensitive},
    {"SENSITIVE", Level::Sensitive},
    {"RESTRICTED", Level::Restricted},
    {"PROTECTED", Level::Protected},
    {"CONFIDENTIAL", Level::Confidential},
    {"SECRET", Level::Secret},
    {"TOP SECRET", Level::TopSecret},
}};

}  // namespace

std::string_view to_string(Level l) {
  switch (l) {
    case Level::Unofficial: return "UNOFFICIAL";
    case Level::Unclassified: return "UNCLASSIFIED";
    case Level::Official: return "OFFICIAL";
    case Level::InConfidence: return "IN-CONFIDENCE";
    case Level::OfficialSensitive: return "OFFICIAL:Sensitive";
    case Level::Sensitive: return "SENSITIVE";
    case Level::Restricted: return "RESTRICTED";
    case Level::Protected: return "PROTECTED";
    case Level::Confidential: return "CONFIDENTIAL";
    case Level::Secret: return "SECRET";
    case Level::TopSecret: return "TOP-SECRET";
  }
  return "?";
}

std::string normalise_level_name(std::string_view text) {
  std::string s;
  bool space = false;
  for (char c : text) {
    if (c == '-' || std::isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space && !s.empty() && c != ':' && s.back() != ':') s += ' ';
    space = false;
    s += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return s;
}

std::optional<Level> parse_level(std::string_view name) {
  if (name.size() > 64) return std::nullopt;  // no level is that long; bounds the copy
  std::string n = normalise_level_name(name);
  for (const auto& k : kNames) {
    if (n == k.normalised) return k.level;
  }
  return std::nullopt;
}

std::optional<Level> parse_dlm(std::string_view value) {
  if (value.size() > 64) return std::nullopt;
  std::string n = normalise_level_name(value);
  if (n == "FOR OFFICIAL USE ONLY") return Level::Official;
  if (n == "SENSITIVE" || n == "SENSITIVE:PERSONAL" || n == "SENSITIVE:LEGAL" ||
      n == "SENSITIVE:CABINET") {
    return Level::OfficialSensitive;
  }
  return std::nullopt;
}

}  // namespace secmx::model
