// address_match.hpp - envelope sender patterns and recipient domains for policy rules.
//
// A sender pattern is one of (docs/policy.md "Rule fields"):
//   "<>"                       the null sender (bounces, DSNs)
//   "@agency.example"          any address in exactly that domain
//   "user@agency.example"      that address
//   "*@*.agency.example", ...  a glob: '*' any run of characters, '?' one character
// Local parts compare exactly (RFC 5321 2.4 leaves them to the receiving host); domains
// compare ASCII case-insensitively and without a final dot. A glob without '@' is matched
// against the whole address, ASCII case-insensitively. Pure, thread-agnostic.
#pragma once

#include <string>
#include <string_view>

namespace secmx::policy {

class SenderPattern {
 public:
  explicit SenderPattern(std::string_view pattern);
  bool matches(std::string_view address) const;
  const std::string& text() const { return text_; }

 private:
  enum class Kind { Null, Domain, Exact, Glob };
  Kind kind_;
  std::string text_;
  std::string local_;   // Exact/Glob with '@': the local part (glob)
  std::string domain_;  // compare form: lower case, no final dot, A-labels (glob for Glob)
  bool has_at_ = false;
};

// "User@Example.ORG." -> "example.org", "anna@Bücher.example" -> "xn--bcher-kva.example";
// "" when there is no '@'.
std::string address_domain(std::string_view address);

// Domain equality as rules use it: ASCII case-insensitive, a final dot ignored, an
// internationalized name equal to its A-labels.
bool same_domain(std::string_view a, std::string_view b);

// '*' and '?' wildcards; iterative, O(pattern * text) at worst.
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace secmx::policy
