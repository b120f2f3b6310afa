// params.hpp - MAIL FROM / RCPT TO arguments: paths and ESMTP parameters.
//
// Pure parsers over the argument of a MAIL or RCPT command ("FROM:<a@b> SIZE=10 ...").
// Every failure is the Reply the server should send (501 5.5.4 syntax, 555 5.5.4 unknown
// parameter, 552 5.3.4 too big, 501 5.1.7/5.1.3 bad sender/recipient address, 553 5.6.7
// non-ASCII address without SMTPUTF8, ...), so the server does not have to know the reasons. `Offered` says which extensions were advertised in this
// session: a parameter of an extension not offered is 555 5.5.4.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "relay/common/result.hpp"
#include "relay/model/envelope.hpp"
#include "relay/smtp/reply.hpp"

namespace secmx::smtp {

struct Offered {
  bool size = true;
  bool eightbitmime = true;
  bool smtputf8 = true;
  bool dsn = true;
  bool requiretls = false;   // only after STARTTLS
  bool chunking = true;      // BODY=BINARYMIME needs CHUNKING
  bool auth = false;
  std::uint64_t max_size = 0;  // 0: no limit; SIZE=n above it is 552 5.3.4
};

struct MailParams {
  std::string reverse_path;   // without <>, empty for the null sender
  std::optional<std::uint64_t> size;
  model::BodyType body = model::BodyType::SevenBit;
  bool smtputf8 = false;
  bool requiretls = false;
  model::Ret ret = model::Ret::Unset;
  std::string envid;          // xtext-decoded
  std::string auth;           // AUTH=<mailbox>, xtext-decoded; "<>" kept as is
};

struct RcptParams {
  std::string forward_path;   // without <>; "postmaster" allowed bare (RFC 5321 4.1.1.3)
  std::uint8_t notify = model::kNotifyUnset;
  std::string orcpt;          // "rfc822;user@example" with the address xtext-decoded
};

// arg is everything after the verb, e.g. "FROM:<a@b> SIZE=100". smtputf8_ok: whether a
// non-ASCII address is acceptable (it also needs SMTPUTF8 on MAIL).
Result<MailParams, Reply> parse_mail(std::string_view arg, const Offered& offered);
Result<RcptParams, Reply> parse_rcpt(std::string_view arg, const Offered& offered,
                                     bool smtputf8_transaction);

// RFC 3461 4 xtext ("+2B" for '+'); nullopt when malformed.
std::optional<std::string> xtext_decode(std::string_view text);
std::string xtext_encode(std::string_view text);
// RFC 6533 3 utf-8-addr-xtext: QCHARs as they are, every other character as "\x{HEX}" (what
// parse_rcpt reads back for ORCPT=utf-8;...). nullopt when `utf8` is not valid UTF-8.
std::optional<std::string> utf8_addr_xtext_encode(std::string_view utf8);

// The domain part of an address, lower-cased ASCII; empty when there is none.
std::string address_domain(std::string_view address);

}  // namespace secmx::smtp
