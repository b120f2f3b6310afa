// config_tls.cpp - the TLS keys of [smtp] (inbound) and [delivery] (outbound).
//
// Part of load_config(): same thread, same rules (every issue at its line). Cipher strings
// are put to OpenSSL here (tls::check_protocol_settings) so that one it refuses, or a
// misspelt suite it would silently skip, is a `--check` error at its line rather than a
// failed start or a reload refused with no line to look at.
#include "relay/config/config_reader.hpp"

namespace secmx::config {

tls::ClientTlsSettings DeliveryConfig::client_tls() const {
  tls::ClientTlsSettings out;
  out.protocol = tls;
  out.ca_file = ca_file;
  out.ca_system = ca_system;
  return out;
}

namespace detail {

void read_tls_protocol(const Section& s, tls::ProtocolSettings& out) {
  std::string text;
  if (s.string("tls_min_protocol", text)) {
    if (auto p = tls::parse_min_protocol(text)) {
      out.min_protocol = *p;
    } else {
      s.fail("tls_min_protocol", "unknown protocol '" + text +
                                     "' (expected \"TLSv1.2\" or \"TLSv1.3\"; older versions "
                                     "are not supported)");
    }
  }
  bool set = s.string("tls12_ciphers", out.tls12_ciphers);
  set = s.string("tls13_suites", out.tls13_suites) || set;
  if (!set && !s.node("tls_min_protocol")) return;  // the built-in defaults
  auto checked = tls::check_protocol_settings(out);
  if (checked) return;
  using Field = tls::SettingsError::Field;
  const tls::SettingsError& e = checked.error();
  std::string_view key = e.field == Field::Tls12Ciphers  ? "tls12_ciphers"
                         : e.field == Field::Tls13Suites ? "tls13_suites"
                                                         : "tls_min_protocol";
  // TLS 1.3 suites made empty by the minimum protocol: point at the key the file has.
  if (!s.node(key) && s.node("tls_min_protocol")) key = "tls_min_protocol";
  s.fail(key, e.message);
}

void read_ca_system(const Section& s, DeliveryConfig& out) {
  s.boolean("ca_system", out.ca_system);
  if (!out.ca_system && out.ca_file.empty()) {
    s.fail("ca_system", "false needs ca_file (with neither, no certificate could be verified)");
  }
}

}  // namespace detail
}  // namespace secmx::config
