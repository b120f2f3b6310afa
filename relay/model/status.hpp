// status.hpp - enhanced mail system status codes (RFC 3463, RFC 5248) as a value.
//
// "class.subject.detail": class 2 (success), 4 (persistent transient failure) or
// 5 (permanent failure); subject and detail 1-3 digits without leading zeros. Outcomes,
// DSNs and logs carry the text form; code that asks what a status means parses it into a
// Status and compares values, never strings. Plain value; any thread.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace secmx::model {

enum class StatusClass : std::uint8_t { Success = 2, Transient = 4, Permanent = 5 };

struct Status {
  StatusClass cls = StatusClass::Permanent;
  std::uint16_t subject = 0;  // 0..999
  std::uint16_t detail = 0;   // 0..999

  // nullopt for anything that is not exactly one well-formed code.
  static std::optional<Status> parse(std::string_view text);

  std::string to_string() const;  // "5.7.10"
  bool temporary() const { return cls == StatusClass::Transient; }
  bool permanent() const { return cls == StatusClass::Permanent; }
  bool success() const { return cls == StatusClass::Success; }
  // The same subject and detail in another class: 4.7.10 -> 5.7.10.
  Status with_class(StatusClass c) const { return {c, subject, detail}; }

  auto operator<=>(const Status&) const = default;
};

// The class digit: 2, 4 or 5.
constexpr int class_digit(StatusClass c) { return static_cast<int>(c); }

// Codes the relay decides itself.
inline constexpr Status kEncryptionNeeded{StatusClass::Permanent, 7, 10};  // 5.7.10, SOS

}  // namespace secmx::model
