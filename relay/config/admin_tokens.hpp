// admin_tokens.hpp - the tokens file of [admin]: the admin API's named operators.
//
// One "name:sha256-hex" per line: the operator's name ([A-Za-z0-9._-]{1,64}, as logs and
// audit records show it) and the SHA-256 of their bearer token as 64 hex digits (what
// `secmxctl token add NAME` prints, or `printf %s TOKEN | sha256sum`). Empty lines and
// lines starting with '#' are skipped. A name or a hash used twice is refused, and so is
// the name "admin": it belongs to the token of [admin] token_file. Problems are Issues
// "file:line: ...", for --check and for a reload that must not swap in a broken file; they
// never quote a hash. Pure; no I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "relay/config/config.hpp"

namespace secmx::config {

// The operator the single token of [admin] token_file stands for.
inline constexpr std::string_view kTokenFileOperator = "admin";

// Appends to `out` from `text` (the contents of `file`); returns the problems, in line
// order. A bad line is left out; the others still load.
std::vector<Issue> parse_admin_tokens(std::string_view text, const std::string& file,
                                      std::vector<OperatorToken>& out);

// Whether `name` may name an operator: [A-Za-z0-9._-]{1,64}.
bool valid_operator_name(std::string_view name);

}  // namespace secmx::config

namespace secmx::config::detail {
class Section;
// [admin] tokens_file: its path, then its lines into AdminConfig::operators (config.cpp).
void read_admin_tokens(const Section& admin, AdminConfig& out);
}  // namespace secmx::config::detail
