#include "relay/server/received_header.hpp"

#include <ctime>

#include "relay/common/log.hpp"

namespace secmx::server {

const std::string& rfc5322_now() {
  thread_local std::time_t cached_second = 0;
  thread_local std::string cached;
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    cached = buf;
    cached_second = now;
  }
  return cached;
}

void append_received(const ReceivedInfo& info, std::string& out) {
  // RFC 3848 protocol names: the "S" says TLS, the "A" says authenticated.
  const char* with = !info.esmtp ? "SMTP"
                     : info.tls  ? (info.authenticated ? "ESMTPSA" : "ESMTPS")
                                 : (info.authenticated ? "ESMTPA" : "ESMTP");
  out += "Received: from ";
  // The HELO name is the client's word: escape it so it cannot break the header.
  out += log::escape(info.helo.empty() ? std::string_view("unknown") : info.helo, 255);
  out += " ([";
  // RFC 5321 4.1.3 address literal: IPv6 carries its tag.
  if (info.client_ip.find(':') != std::string_view::npos) out += "IPv6:";
  out += info.client_ip;
  out += "])\r\n\tby ";
  out += info.hostname;
  out += " (secmx-relay) with ";
  out += with;
  out += " id ";
  out += info.queue_id;
  if (info.tls) {
    out += "\r\n\t(version=";
    out += info.tls_protocol;
    out += " cipher=";
    out += info.tls_cipher;
    out += " bits=";
    out += std::to_string(info.tls_bits);
    out += ")";
  }
  out += ";\r\n\t";
  out += rfc5322_now();
  out += "\r\n";
}

}  // namespace secmx::server
