// status.cpp - enhanced status code parsing and printing (see status.hpp).
#include "relay/model/status.hpp"

namespace secmx::model {
namespace {

// 1-3 digits, no leading zero (a lone "0" is fine).
std::optional<std::uint16_t> part(std::string_view s) {
  if (s.empty() || s.size() > 3) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  std::uint16_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = static_cast<std::uint16_t>(n * 10 + (c - '0'));
  }
  return n;
}

}  // namespace

std::optional<Status> Status::parse(std::string_view s) {
  if (s.size() < 5 || s[1] != '.') return std::nullopt;
  Status st;
  switch (s[0]) {
    case '2': st.cls = StatusClass::Success; break;
    case '4': st.cls = StatusClass::Transient; break;
    case '5': st.cls = StatusClass::Permanent; break;
    default: return std::nullopt;
  }
  s.remove_prefix(2);
  std::size_t dot = s.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  auto subject = part(s.substr(0, dot));
  auto detail = part(s.substr(dot + 1));
  if (!subject || !detail) return std::nullopt;
  st.subject = *subject;
  st.detail = *detail;
  return st;
}

std::string Status::to_string() const {
  return std::to_string(class_digit(cls)) + "." + std::to_string(subject) + "." +
         std::to_string(detail);
}

}  // namespace secmx::model
