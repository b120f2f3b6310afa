// tls_settings.cpp - names of the protocol floor, and OpenSSL's verdict on cipher strings.
//
// OpenSSL accepts a cipher string as long as one element in it matches something, so a
// misspelt suite next to a good one would pass silently and the operator would not get
// what was written. Each element that adds ciphers is therefore also tried on its own.
#include "relay/tls/tls_settings.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <memory>
#include <vector>

#include "relay/tls/tls_context.hpp"

namespace secmx::tls {
namespace {

using Field = SettingsError::Field;

// OpenSSL separates elements with ':' and also accepts ' ', ',' and ';'.
std::vector<std::string> elements(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (c == ':' || c == ' ' || c == ',' || c == ';') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// "!X", "-X", "+X" remove or move ciphers, "@STRENGTH"/"@SECLEVEL=n" are commands: only a
// bare element has to match something by itself.
bool adds_ciphers(const std::string& element) {
  return element.front() != '!' && element.front() != '-' && element.front() != '+' &&
         element.front() != '@';
}

SettingsError refused(Field field, std::string what) {
  std::string reason = drain_openssl_errors();
  if (!reason.empty()) what += " (" + reason + ")";
  return SettingsError{field, std::move(what)};
}

Status<SettingsError> check_tls12(SSL_CTX* ctx, const std::string& list) {
  ERR_clear_error();
  if (SSL_CTX_set_cipher_list(ctx, list.c_str()) != 1) {
    return fail(refused(Field::Tls12Ciphers, "OpenSSL accepts no TLS 1.2 cipher in '" + list + "'"));
  }
  for (const std::string& e : elements(list)) {
    if (!adds_ciphers(e)) continue;
    if (SSL_CTX_set_cipher_list(ctx, e.c_str()) != 1) {
      return fail(refused(Field::Tls12Ciphers, "'" + e + "' matches no TLS 1.2 cipher"));
    }
  }
  return Ok{};
}

Status<SettingsError> check_tls13(SSL_CTX* ctx, const std::string& suites, MinProtocol min) {
  if (suites.empty()) {
    if (min == MinProtocol::Tls1_3) {
      return fail(SettingsError{Field::Tls13Suites,
                                "is empty, which disables TLS 1.3, the minimum protocol"});
    }
    return Ok{};
  }
  ERR_clear_error();
  for (const std::string& e : elements(suites)) {
    if (SSL_CTX_set_ciphersuites(ctx, e.c_str()) != 1) {
      return fail(refused(Field::Tls13Suites, "'" + e + "' is not a TLS 1.3 suite"));
    }
  }
  return Ok{};
}

}  // namespace

std::optional<MinProtocol> parse_min_protocol(std::string_view text) {
  if (text == "TLSv1.2") return MinProtocol::Tls1_2;
  if (text == "TLSv1.3") return MinProtocol::Tls1_3;
  return std::nullopt;
}

std::string_view to_string(MinProtocol p) {
  return p == MinProtocol::Tls1_3 ? "TLSv1.3" : "TLSv1.2";
}

Status<SettingsError> check_protocol_settings(const ProtocolSettings& settings) {
  std::unique_ptr<SSL_CTX, SslCtxDeleter> ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) return fail(refused(Field::MinProtocol, "cannot create an SSL context"));
  auto st = check_tls12(ctx.get(), settings.tls12_ciphers);
  if (st) st = check_tls13(ctx.get(), settings.tls13_suites, settings.min_protocol);
  ERR_clear_error();
  return st;
}

}  // namespace secmx::tls
