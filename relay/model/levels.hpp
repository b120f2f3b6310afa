// levels.hpp - the classification levels the relay knows, on one combined scale.
//
// New Zealand (PSR) and Australian (PSPF) levels are interleaved into one total order so
// that "the highest marking counts" has an answer when a message carries markings of both
// schemes; the order is by the protection each level asks for, equivalents side by side:
//
//   UNOFFICIAL < UNCLASSIFIED < OFFICIAL < IN-CONFIDENCE < OFFICIAL:Sensitive < SENSITIVE
//     < RESTRICTED < PROTECTED < CONFIDENTIAL < SECRET < TOP-SECRET
//
// Rules never compare ranks: a rule names levels and matches when the message's effective
// level is one of them. Names are compared after normalisation (case, '-' or runs of
// white space as one space, no space around ':'), the same as the config loader does, so
// "top secret", "TOP-SECRET" and "Top Secret" are one level. Pure, thread-agnostic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace secmx::model {

enum class Level : std::uint8_t {
  Unofficial,         // AU
  Unclassified,       // NZ; AU before 2018
  Official,           // AU
  InConfidence,       // NZ
  OfficialSensitive,  // AU
  Sensitive,          // NZ
  Restricted,         // NZ
  Protected,          // AU
  Confidential,       // NZ; AU before 2018
  Secret,             // both
  TopSecret,          // both
};
inline constexpr int kLevelCount = 11;

constexpr int rank(Level l) { return static_cast<int>(l); }

// Levels above the unmarked baseline (UNOFFICIAL, UNCLASSIFIED, OFFICIAL): mail marked so
// is meant to be protected in transit, so `--check` wants a rule for each of them.
constexpr bool needs_protection(Level l) { return rank(l) >= rank(Level::InConfidence); }
inline constexpr Level kLevels[] = {
    Level::Unofficial,   Level::Unclassified, Level::Official,  Level::InConfidence,
    Level::OfficialSensitive, Level::Sensitive, Level::Restricted, Level::Protected,
    Level::Confidential, Level::Secret,       Level::TopSecret};

// Canonical spelling, without spaces so that it reads well in key=value log fields:
// "UNCLASSIFIED", "IN-CONFIDENCE", "OFFICIAL:Sensitive", "TOP-SECRET".
std::string_view to_string(Level l);

// "top secret" -> "TOP SECRET", "OFFICIAL: sensitive" -> "OFFICIAL:SENSITIVE".
std::string normalise_level_name(std::string_view text);

// A level name as a rule or a marking writes it; nullopt if it is none of the eleven.
std::optional<Level> parse_level(std::string_view name);

// An AU 2012.3 dissemination limiting marker (DLM=...), mapped as the PSPF 2018 transition
// did: For-Official-Use-Only -> OFFICIAL, Sensitive[:Personal|:Legal|:Cabinet] ->
// OFFICIAL:Sensitive. nullopt for anything else.
std::optional<Level> parse_dlm(std::string_view value);

}  // namespace secmx::model
