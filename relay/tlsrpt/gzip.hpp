// gzip.hpp - gzip (RFC 1952) of a report, as application/tlsrpt+gzip wants, and its
// inverse (tests, `tlsrpt show --raw`). Pure; any thread.
#pragma once

#include <cstddef>
#include <string>

#include "relay/common/result.hpp"

namespace secmx::tlsrpt {

std::string gzip(const std::string& data);

// Fails, with a one-line reason, on anything that is not exactly one complete gzip member
// (trailing bytes included) or that inflates to more than `max_out` octets.
Result<std::string, std::string> gunzip(const std::string& data, std::size_t max_out = 64u << 20);

}  // namespace secmx::tlsrpt
