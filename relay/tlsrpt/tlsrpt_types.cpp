#include "relay/tlsrpt/tlsrpt_types.hpp"

#include <array>
#include <chrono>
#include <cstdio>

namespace secmx::tlsrpt {

namespace {
constexpr std::array<const char*, 3> kPolicyNames = {"sts", "tlsa", "no-policy-found"};
constexpr std::array<const char*, kResultTypes> kResultNames = {
    "starttls-not-supported", "certificate-host-mismatch", "certificate-expired",
    "certificate-not-trusted", "validation-failure", "tlsa-invalid", "dnssec-invalid",
    "dane-required", "sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid"};
}  // namespace

const char* to_string(PolicyType t) { return kPolicyNames[static_cast<std::size_t>(t)]; }

std::optional<PolicyType> policy_type_from(std::string_view s) {
  for (std::size_t i = 0; i < kPolicyNames.size(); ++i)
    if (s == kPolicyNames[i]) return static_cast<PolicyType>(i);
  return std::nullopt;
}

const char* to_string(ResultType r) { return kResultNames[static_cast<std::size_t>(r)]; }

std::optional<ResultType> result_type_from(std::string_view s) {
  for (std::size_t i = 0; i < kResultNames.size(); ++i)
    if (s == kResultNames[i]) return static_cast<ResultType>(i);
  return std::nullopt;
}

std::string utc_day(std::int64_t time_us) {
  using namespace std::chrono;
  sys_days days = floor<std::chrono::days>(sys_time<microseconds>(microseconds(time_us)));
  year_month_day ymd(days);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

std::optional<std::int64_t> day_start_us(std::string_view day) {
  using namespace std::chrono;
  if (day.size() != 10 || day[4] != '-' || day[7] != '-') return std::nullopt;
  int v[3] = {0, 0, 0};
  std::size_t at[3][2] = {{0, 4}, {5, 2}, {8, 2}};
  for (int i = 0; i < 3; ++i) {
    for (std::size_t j = at[i][0]; j < at[i][0] + at[i][1]; ++j) {
      if (day[j] < '0' || day[j] > '9') return std::nullopt;
      v[i] = v[i] * 10 + (day[j] - '0');
    }
  }
  year_month_day ymd{year(v[0]), month(static_cast<unsigned>(v[1])), std::chrono::day(static_cast<unsigned>(v[2]))};
  if (!ymd.ok()) return std::nullopt;
  return duration_cast<microseconds>(sys_days(ymd).time_since_epoch()).count();
}

}  // namespace secmx::tlsrpt
