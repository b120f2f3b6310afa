#include "relay/common/idna.hpp"

#include <idn2.h>

#include <algorithm>
#include <memory>

#include "relay/common/ascii.hpp"

namespace secmx {

bool has_non_ascii(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

std::optional<std::string> lookup_name(std::string_view domain) {
  if (domain.ends_with('.')) domain.remove_suffix(1);
  std::string name = ascii_lowercase(domain);
  if (!has_non_ascii(name)) return name;
  char* out = nullptr;
  int rc = idn2_to_ascii_8z(name.c_str(), &out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  std::unique_ptr<char, decltype(&idn2_free)> owned(out, &idn2_free);
  if (rc != IDN2_OK || out == nullptr) return std::nullopt;
  return ascii_lowercase(out);
}

}  // namespace secmx
