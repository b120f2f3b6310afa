#include "relay/sts/mx_match.hpp"

#include "relay/common/ascii.hpp"
#include "relay/common/hostname.hpp"

namespace secmx::sts {

namespace {

// valid_hostname() allows one final dot; the comparison ignores it.
std::string_view without_dot(std::string_view name) {
  if (name.ends_with('.')) name.remove_suffix(1);
  return name;
}

}  // namespace

bool mx_matches(std::string_view pattern, std::string_view mx_host) {
  if (!valid_hostname(mx_host)) return false;
  mx_host = without_dot(mx_host);
  if (!pattern.starts_with("*.")) {
    return valid_hostname(pattern) && iequals(without_dot(pattern), mx_host);
  }
  std::string_view domain = pattern.substr(2);
  if (!valid_hostname(domain)) return false;
  domain = without_dot(domain);
  // valid_hostname() guarantees a non-empty first label, so the wildcard never matches
  // "nothing": the host must have exactly one label more than the domain.
  std::size_t dot = mx_host.find('.');
  return dot != std::string_view::npos && iequals(mx_host.substr(dot + 1), domain);
}

bool policy_allows(const StsPolicy& policy, std::string_view mx_host) {
  if (policy.mode == Mode::None) return true;
  for (const std::string& pattern : policy.mx) {
    if (mx_matches(pattern, mx_host)) return true;
  }
  return false;
}

}  // namespace secmx::sts
