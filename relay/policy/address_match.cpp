// address_match.cpp - sender patterns, domains and the glob matcher behind them.
#include "relay/policy/address_match.hpp"

#include "relay/common/idna.hpp"

namespace secmx::policy {
namespace {

// ASCII letters lowered, one final dot dropped; other bytes as they are.
std::string lower_ascii(std::string_view d) {
  std::string out(d);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

// Domains compare in one form: lower case, no final dot, and an internationalized name as
// its A-labels, so "Bücher.example" in a rule or an address is "xn--bcher-kva.example"
// (the form the config loader keeps). Text IDNA refuses is only lowered.
std::string lower_domain(std::string_view d) {
  if (has_non_ascii(d)) {
    if (auto a_labels = lookup_name(d)) return *a_labels;
  }
  return lower_ascii(d);
}

// The last '@' separates local part and domain: a quoted local part may contain '@'.
std::size_t at_of(std::string_view address) { return address.rfind('@'); }

}  // namespace

std::string address_domain(std::string_view address) {
  std::size_t at = at_of(address);
  if (at == std::string_view::npos) return {};
  return lower_domain(address.substr(at + 1));
}

bool same_domain(std::string_view a, std::string_view b) {
  return lower_domain(a) == lower_domain(b);
}

bool glob_match(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      // Let the last '*' swallow one more character and try again from there.
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

SenderPattern::SenderPattern(std::string_view pattern) : text_(pattern) {
  if (pattern == "<>") {
    kind_ = Kind::Null;
    return;
  }
  bool glob = pattern.find_first_of("*?") != std::string_view::npos;
  std::size_t at = at_of(pattern);
  has_at_ = at != std::string_view::npos;
  // A glob has no A-label form ("bü*" is not a label): it stays as written, and matches()
  // tries the address's domain both as written and as A-labels.
  auto form = [&](std::string_view d) { return glob ? lower_ascii(d) : lower_domain(d); };
  if (has_at_) {
    local_ = std::string(pattern.substr(0, at));
    domain_ = form(pattern.substr(at + 1));
  } else {
    domain_ = form(pattern);  // a glob over the whole address
  }
  if (glob) {
    kind_ = Kind::Glob;
  } else if (has_at_ && at == 0) {
    kind_ = Kind::Domain;
  } else {
    kind_ = Kind::Exact;
  }
}

bool SenderPattern::matches(std::string_view address) const {
  if (kind_ == Kind::Null) return address.empty();
  if (address.empty()) return false;
  std::size_t at = at_of(address);
  std::string_view local = at == std::string_view::npos ? address : address.substr(0, at);
  std::string domain =
      at == std::string_view::npos ? std::string() : lower_domain(address.substr(at + 1));
  switch (kind_) {
    case Kind::Null:
      return false;
    case Kind::Domain:
      return at != std::string_view::npos && domain == domain_;
    case Kind::Exact:
      return at != std::string_view::npos && local == local_ && domain == domain_;
    case Kind::Glob: {
      // Only an internationalized domain has a second form to try.
      bool idn = at != std::string_view::npos && has_non_ascii(address.substr(at + 1));
      if (!has_at_) {
        return glob_match(domain_, lower_ascii(address)) ||
               (idn && glob_match(domain_, lower_ascii(local) + "@" + domain));
      }
      return at != std::string_view::npos && glob_match(local_, local) &&
             (glob_match(domain_, domain) ||
              (idn && glob_match(domain_, lower_ascii(address.substr(at + 1)))));
    }
  }
  return false;
}

}  // namespace secmx::policy
