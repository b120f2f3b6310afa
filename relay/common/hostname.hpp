// hostname.hpp - the syntax of a DNS host name (RFC 1123 LDH labels).
//
// Shared by the config loader (hostname, route domains, postmaster) and discovery
// (recipient domains and MX/SRV targets), so that both accept exactly the same names.
// Pure.
#pragma once

#include <string_view>

namespace secmx {

// LDH labels of 1..63 characters joined by dots, 253 characters at most, no label
// starting or ending with '-'; one final dot is allowed.
bool valid_hostname(std::string_view text);

}  // namespace secmx
