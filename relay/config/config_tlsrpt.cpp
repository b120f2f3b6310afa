// config_tlsrpt.cpp - the [tlsrpt] section (TLS reporting, RFC 8460; docs/tlsrpt.md).
//
// Part of load_config(): same thread, same rules (every issue at its line, defaults left
// standing when a value is wrong). The defaults that depend on other settings are filled
// here - organization from the hostname, contact from `from` - so that the report builder,
// the admin view and the docs agree on one rule.
#include "relay/common/idna.hpp"
#include "relay/config/config_reader.hpp"

namespace secmx::config {

namespace {

// Lower case, no final dot: how the counts key a policy domain.
std::string domain_key(std::string_view name) {
  std::string d = ascii_lowercase(name);
  if (!d.empty() && d.back() == '.') d.pop_back();
  return d;
}

}  // namespace

bool TlsRptConfig::excluded(std::string_view domain) const {
  const std::string d = domain_key(domain);
  for (const auto& e : exclude) {
    if (e == d) return true;
  }
  return false;
}

namespace detail {

void read_tlsrpt(const Section& root, const std::string& hostname, TlsRptConfig& out) {
  Section s = root.sub("tlsrpt");
  s.check_keys({"enabled", "from", "organization", "contact", "report_hour", "exclude",
                "retention_days", "https_timeout", "https_retries"});
  s.boolean("enabled", out.enabled);
  if (s.string("from", out.from) && !out.from.empty() && !valid_address(out.from)) {
    s.fail("from", "invalid address '" + out.from + "' (expected \"local@domain\")");
    out.from.clear();
  } else if (out.enabled && out.from.empty()) {
    // The report's envelope sender and its TLS-Report-Submitter come from it: there is
    // no sensible default (the agency decides who receivers may write back to).
    std::uint32_t at = s.node("from") ? s.line("from") : s.line("enabled");
    s.reader().add(at, "tlsrpt.from is required when tlsrpt.enabled");
  }
  for (std::string_view key : {"organization", "contact"}) {
    std::string& value = key == "organization" ? out.organization : out.contact;
    if (!s.string(key, value)) continue;
    // Both go into the JSON and the mail's text part: one printable line.
    for (char c : value) {
      if (static_cast<unsigned char>(c) < 32 || c == 127) {
        s.fail(key, "must be one line of printable text");
        value.clear();
        break;
      }
    }
  }
  if (out.organization.empty()) out.organization = hostname;
  if (out.contact.empty()) out.contact = out.from;

  std::int64_t n = 0;
  if (s.integer("report_hour", n, 0, 23)) out.report_hour = static_cast<std::uint32_t>(n);
  // Yesterday's counts must outlive the report hour, so at least two days are kept.
  s.u32("retention_days", out.retention_days, 2, 3660);
  if (s.duration("https_timeout", out.https_timeout, std::chrono::seconds(1)) &&
      out.https_timeout > std::chrono::minutes(10)) {
    s.fail("https_timeout", "must be at most 10m");
    out.https_timeout = std::chrono::minutes(10);
  }
  s.u32("https_retries", out.https_retries, 1, 20);

  std::vector<Section::Item> items;
  if (s.strings("exclude", items)) {
    std::vector<std::string> domains;
    for (auto& it : items) {
      std::string d = domain_key(has_non_ascii(it.value) ? lookup_name(it.value).value_or("")
                                                         : it.value);
      if (!valid_hostname(d)) {
        s.reader().add(it.line, s.name("exclude") + ": invalid domain '" + it.value + "'");
      } else {
        domains.push_back(std::move(d));
      }
    }
    out.exclude = std::move(domains);
  }
}

}  // namespace detail
}  // namespace secmx::config
