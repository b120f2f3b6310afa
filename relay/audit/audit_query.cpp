// audit_query.cpp - see audit_query.hpp.
#include "relay/audit/audit_query.hpp"

#include <algorithm>
#include <array>
#include <set>

#include "relay/common/ascii.hpp"

namespace secmx::audit {

namespace {

constexpr std::size_t kMaxValue = 998;  // longer than any address or Message-ID may be

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + doe - 719468;
}

int days_in_month(int y, int m) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

std::string_view strip_brackets(std::string_view id) {
  if (id.size() >= 2 && id.front() == '<' && id.back() == '>') return id.substr(1, id.size() - 2);
  return id;
}

std::string_view domain_of(std::string_view address) {
  auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string_view() : address.substr(at + 1);
}

// `value` in `allowed`, any case; the canonical spelling from `allowed`.
std::optional<std::string> one_of(std::string_view value, std::initializer_list<std::string_view> allowed) {
  for (auto a : allowed) {
    if (iequals(value, a)) return std::string(a);
  }
  return std::nullopt;
}

std::string expected(std::string_view name, std::initializer_list<std::string_view> allowed,
                     std::string_view got) {
  std::string out = std::string(name) + ": expected ";
  std::size_t i = 0;
  for (auto a : allowed) {
    if (i > 0) out += i + 1 == allowed.size() ? " or " : ", ";
    out += a;
    ++i;
  }
  return out + ", got '" + std::string(got.substr(0, 60)) + "'";
}

}  // namespace

std::optional<std::int64_t> parse_time(std::string_view s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d)) {
    return std::nullopt;
  }
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return std::nullopt;
  std::int64_t frac_us = 0;
  std::string_view rest = s.substr(10);
  if (!rest.empty()) {
    if ((rest[0] != 'T' && rest[0] != 't' && rest[0] != ' ') || !digits(rest, 1, 2, h) ||
        rest.size() < 6 || rest[3] != ':' || !digits(rest, 4, 2, mi)) {
      return std::nullopt;
    }
    rest.remove_prefix(6);
    if (!rest.empty() && rest[0] == ':') {
      if (!digits(rest, 1, 2, sec)) return std::nullopt;
      rest.remove_prefix(3);
      if (!rest.empty() && rest[0] == '.') {
        std::size_t n = 1;
        std::int64_t scale = 100000;
        for (; n < rest.size() && rest[n] >= '0' && rest[n] <= '9'; ++n) {
          if (n > 6) return std::nullopt;
          frac_us += (rest[n] - '0') * scale;
          scale /= 10;
        }
        if (n == 1) return std::nullopt;
        rest.remove_prefix(n);
      }
    }
    if (rest == "Z" || rest == "z") rest = {};
    if (!rest.empty() || h > 23 || mi > 59 || sec > 59) return std::nullopt;
  }
  std::int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
  return secs * 1000000 + frac_us;
}

bool Filter::in_time(std::int64_t t) const {
  return (!from_us || t >= *from_us) && (!to_us || t < *to_us);
}

bool Filter::matches(const RecordFields& r) const {
  if (!event.empty() && r.event != event) return false;
  if (null_sender ? !r.sender.empty() : !sender.empty() && !iequals(r.sender, sender)) return false;
  if (!classification.empty() && !iequals(r.classification, classification)) return false;
  if (!auth.empty() && (r.event != "outcome" || r.auth != auth)) return false;
  if (!outcome.empty() && (r.event != "outcome" || r.outcome != outcome)) return false;
  if (!message_id.empty() && strip_brackets(r.message_id) != message_id) return false;
  auto any_rcpt = [&r](auto pred) { return std::any_of(r.recipients.begin(), r.recipients.end(), pred); };
  if (!recipient.empty() &&
      !any_rcpt([this](const RecordFields::Rcpt& x) { return iequals(x.address, recipient); })) {
    return false;
  }
  if (!domain.empty() &&
      !any_rcpt([this](const RecordFields::Rcpt& x) { return iequals(domain_of(x.address), domain); })) {
    return false;
  }
  if (!policy.empty() &&
      !any_rcpt([this](const RecordFields::Rcpt& x) { return iequals(x.policy, policy); })) {
    return false;
  }
  return true;
}

Result<Filter, std::string> parse_filter(const std::multimap<std::string, std::string>& params,
                                         const std::vector<std::string>& ignored) {
  static const std::set<std::string, std::less<>> kNames = {
      "from", "to", "sender", "recipient", "domain", "classification", "policy",
      "auth", "outcome", "message_id", "event"};
  Filter f;
  for (auto it = params.begin(); it != params.end(); ++it) {
    const std::string& name = it->first;
    if (std::find(ignored.begin(), ignored.end(), name) != ignored.end()) continue;
    if (!kNames.count(name)) {
      return fail("unknown parameter '" + name.substr(0, 40) +
                  "': expected from, to, sender, recipient, domain, classification, policy, auth, "
                  "outcome, message_id or event");
    }
    if (params.count(name) > 1) return fail(name + ": given more than once");
    const std::string& v = it->second;
    if (v.size() > kMaxValue) return fail(name + ": longer than " + std::to_string(kMaxValue) + " bytes");
    if (v.empty()) continue;  // an empty parameter filters nothing (an empty form field)
    if (name == "from" || name == "to") {
      auto t = parse_time(v);
      if (!t) {
        return fail(name + ": expected a UTC date or time (2026-11-01 or 2026-11-01T10:00:00Z), got '" +
                    v.substr(0, 60) + "'");
      }
      (name == "from" ? f.from_us : f.to_us) = *t;
    } else if (name == "sender") {
      if (v == "<>") f.null_sender = true;
      else f.sender = v;
    } else if (name == "recipient") {
      if (v.find('@') == std::string::npos) return fail("recipient: expected an address, got '" + v.substr(0, 60) + "'");
      f.recipient = v;
    } else if (name == "domain") {
      if (v.find('@') != std::string::npos || v.find(' ') != std::string::npos) {
        return fail("domain: expected a domain, got '" + v.substr(0, 60) + "'");
      }
      f.domain = v;
    } else if (name == "classification") {
      f.classification = v;
    } else if (name == "policy") {
      auto p = one_of(v, {"BES", "SOS", "HOLD", "REJECT"});
      if (!p) return fail(expected(name, {"BES", "SOS", "HOLD", "REJECT"}, v));
      f.policy = *p;
    } else if (name == "auth") {
      auto a = one_of(v, {"dane", "mta-sts", "pkix", "none"});
      if (!a) return fail(expected(name, {"dane", "mta-sts", "pkix", "none"}, v));
      f.auth = *a;
    } else if (name == "outcome") {
      auto o = one_of(v, {"delivered", "failed", "bounced", "deleted"});
      if (!o) return fail(expected(name, {"delivered", "failed", "bounced", "deleted"}, v));
      f.outcome = *o;
    } else if (name == "event") {
      auto e = one_of(v, {"accept", "reject", "outcome", "dsn", "operator", "reload"});
      if (!e) return fail(expected(name, {"accept", "reject", "outcome", "dsn", "operator", "reload"}, v));
      f.event = *e;
    } else if (name == "message_id") {
      f.message_id = std::string(strip_brackets(v));
    }
  }
  if (f.from_us && f.to_us && *f.from_us >= *f.to_us) return fail(std::string("from: must be before to"));
  return f;
}

Result<QueryPage, queue::Error> query_page(queue::Store& store, const Filter& filter,
                                           std::uint64_t after, std::size_t limit,
                                           std::size_t max_scan) {
  QueryPage page;
  std::uint64_t start = after + 1;
  if (filter.from_us) {
    auto at = first_seq_at(store, *filter.from_us);
    if (!at) return fail(at.error());
    if (!*at) return page;  // nothing recorded since `from`
    start = std::max(start, **at);
  }
  RecordFields fields;
  bool more = false;
  auto walked = walk_links(store, start, [&](std::uint64_t seq, const std::optional<queue::audit::Link>& link,
                                             std::string_view) {
    if (page.records.size() >= limit || page.scanned >= max_scan) {
      more = true;
      return false;
    }
    ++page.scanned;
    page.next = seq;
    if (!link) return true;  // unreadable: `audit verify` names it
    if (filter.to_us && link->time_us >= *filter.to_us) {
      page.next.reset();
      return false;
    }
    if (!extract_fields(link->payload, fields) || !filter.matches(fields)) return true;
    page.records.emplace_back(seq, link->payload);
    return true;
  });
  if (!walked) return fail(walked.error());
  if (!more) page.next.reset();
  return page;
}

}  // namespace secmx::audit
