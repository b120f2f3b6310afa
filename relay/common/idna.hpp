// idna.hpp - the form a domain is compared and looked up in: lower case, no final dot,
// an internationalized name (SMTPUTF8 mail, or an operator's config) as its IDNA2008
// A-labels: "Bücher.example." -> "xn--bcher-kva.example" (UTS #46 non-transitional,
// libidn2). Discovery looks names up in this form; the config loader stores route and
// rule domains in it and the policy compares recipients' domains in it, so "bücher.example"
// and "xn--bcher-kva.example" are the same domain everywhere. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace secmx {

// nullopt: IDNA refuses the name (a symbol, bytes that are not UTF-8). Syntax beyond that
// (LDH labels, lengths) is valid_hostname()'s to judge.
std::optional<std::string> lookup_name(std::string_view domain);

bool has_non_ascii(std::string_view text);

}  // namespace secmx
