// tls_session.cpp - one TLS connection driven through two memory BIOs.
//
// Contract (see tls_session.hpp): enc_in carries ciphertext from the network into the SSL
// object, enc_out carries what the SSL object wants sent. Neither BIO ever blocks: enc_in
// reports "retry" when empty (so OpenSSL asks for more instead of seeing EOF; a TCP EOF
// is the transport's business), enc_out grows without limit (back-pressure is the
// owner's, by not calling write_plain() while the socket is behind).
//
// Progress values: handshake() -> NeedMore until Done; read_plain() -> NeedMore when
// everything available was decrypted, Done once the peer's close_notify has been seen
// (nothing more will ever arrive), Failed on a fatal error; write_plain() -> Done when all
// of `data` is encrypted into enc_out. Any call may leave bytes in enc_out (alerts,
// tickets, key updates, close_notify): the owner checks has_encrypted() after each one,
// including after Failed, where enc_out usually holds the alert that tells the peer why.
//
// Every SSL_* call is preceded by ERR_clear_error() and followed at once by
// SSL_get_error(), so the reason recorded belongs to that call and no other.
//
// Verification is OpenSSL's throughout (X509_check_host for PKIX names, its DANE code for
// TLSA records); this file only sets it up and reads the outcome. When a client's full
// handshake completes, the outcome is remembered on its SSL_SESSION before any ticket can
// be copied from it (session_auth.hpp), so that resumptions report it truthfully.
#include "relay/tls/tls_session.hpp"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <climits>
#include <utility>

#include "relay/tls/hex.hpp"
#include "relay/tls/session_auth.hpp"

namespace secmx::tls {
namespace {

BIO* as_bio(void* p) { return static_cast<BIO*>(p); }

const char* ssl_error_name(int code) {
  switch (code) {
    case SSL_ERROR_NONE: return "SSL_ERROR_NONE";
    case SSL_ERROR_SSL: return "SSL_ERROR_SSL";
    case SSL_ERROR_WANT_READ: return "SSL_ERROR_WANT_READ";
    case SSL_ERROR_WANT_WRITE: return "SSL_ERROR_WANT_WRITE";
    case SSL_ERROR_WANT_X509_LOOKUP: return "SSL_ERROR_WANT_X509_LOOKUP";
    case SSL_ERROR_SYSCALL: return "SSL_ERROR_SYSCALL";
    case SSL_ERROR_ZERO_RETURN: return "SSL_ERROR_ZERO_RETURN (peer sent close_notify)";
    case SSL_ERROR_WANT_CONNECT: return "SSL_ERROR_WANT_CONNECT";
    case SSL_ERROR_WANT_ACCEPT: return "SSL_ERROR_WANT_ACCEPT";
    default: return "unknown SSL error";
  }
}

bool is_ip_literal(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

// MX and CNAME targets come out of DNS fully qualified ("mx.example.com."); neither SNI
// (RFC 6066 forbids the dot) nor certificate names carry it.
std::string strip_root_dot(const std::string& name) {
  if (name.size() > 1 && name.back() == '.') return name.substr(0, name.size() - 1);
  return name;
}

TlsError make_error(const std::string& what) {
  std::string reason = drain_openssl_errors();
  if (reason.empty()) reason = "no reason given by OpenSSL";
  return TlsError{what + ": " + reason};
}

std::string subject_rfc2253(X509* cert) {
  BIO* mem = BIO_new(BIO_s_mem());
  if (mem == nullptr) return {};
  std::string out;
  // RFC 2253 flags escape control and non-ASCII bytes, so a hostile peer's subject stays
  // one printable line (the logger still escapes and truncates it).
  if (X509_NAME_print_ex(mem, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
    char* data = nullptr;
    long len = BIO_get_mem_data(mem, &data);
    if (len > 0 && data != nullptr) out.assign(data, static_cast<std::size_t>(len));
  }
  BIO_free(mem);
  return out;
}

std::string sha256_of(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) return {};
  return lower_hex(md, len);
}

// OpenSSL's words, except where they would mislead a reader of a delivery log.
std::string verify_error_words(long result) {
  switch (result) {
    case X509_V_ERR_DANE_NO_MATCH: return "certificate matches no TLSA record";
    default: return X509_verify_cert_error_string(result);
  }
}

// What a full handshake established about the peer (client side: what `dane` says was
// asked; server side: the client's chain, if it sent one).
PeerAuth live_auth(SSL* ssl, bool dane, int usable_tlsa) {
  if (SSL_get0_peer_certificate(ssl) == nullptr) {
    // SSL_get_verify_result says X509_V_OK when nothing was verified at all.
    return PeerAuth{false, false, "no peer certificate"};
  }
  // OpenSSL falls back to PKIX when no record was usable; for SMTP such an RRset only
  // means unauthenticated TLS (RFC 7672 §2.2).
  if (dane && usable_tlsa == 0) return PeerAuth{false, false, "no usable TLSA record"};
  long result = SSL_get_verify_result(ssl);
  if (result != X509_V_OK) return PeerAuth{false, false, verify_error_words(result), result};
  if (!dane) return PeerAuth{true, false, {}};
  // With only DANE-TA/EE records OpenSSL's success is a TLSA match; the depth (0 the leaf,
  // else the issuing trust anchor) confirms it.
  if (SSL_get0_dane_authority(ssl, nullptr, nullptr) < 0) {
    return PeerAuth{false, false, "certificate matches no TLSA record", X509_V_ERR_DANE_NO_MATCH};
  }
  return PeerAuth{true, true, {}};
}

}  // namespace

Result<std::unique_ptr<TlsSession>, TlsError> TlsSession::create(
    std::shared_ptr<TlsContext> context, Role role, const std::string& sni,
    const PeerVerify& verify) {
  if (!context || context->get() == nullptr) {
    return fail(TlsError{"cannot create a TLS session: no TLS context"});
  }
  ERR_clear_error();
  std::unique_ptr<TlsSession> s(new TlsSession());
  s->context_ = std::move(context);
  s->role_ = role;
  s->ssl_ = SSL_new(s->context_->get());
  if (s->ssl_ == nullptr) return fail(make_error("cannot create a TLS session"));

  BIO* enc_in = BIO_new(BIO_s_mem());
  BIO* enc_out = BIO_new(BIO_s_mem());
  if (enc_in == nullptr || enc_out == nullptr) {
    BIO_free(enc_in);
    BIO_free(enc_out);
    return fail(make_error("cannot create the TLS memory buffers"));
  }
  // Empty enc_in means "no bytes yet", not end of stream.
  BIO_set_mem_eof_return(enc_in, -1);
  SSL_set_bio(s->ssl_, enc_in, enc_out);  // from here on ~TlsSession frees both
  s->enc_in_ = enc_in;
  s->enc_out_ = enc_out;

  if (role == Role::Server) {
    SSL_set_accept_state(s->ssl_);
    return s;
  }

  SSL_set_connect_state(s->ssl_);
  std::string host = strip_root_dot(sni);
  // RFC 6066: SNI carries host names only, never address literals.
  if (!host.empty() && !is_ip_literal(host)) {
    if (SSL_set_tlsext_host_name(s->ssl_, host.c_str()) != 1) {
      return fail(make_error("invalid SNI host name '" + host + "'"));
    }
  }
  s->verify_key_ = verify_key(verify);
  std::vector<std::string> names;
  for (const std::string& n : verify.names) {
    std::string name = strip_root_dot(n);
    if (!name.empty()) names.push_back(std::move(name));
  }
  auto set = verify.tlsa.empty() ? s->set_pkix_names(names) : s->enable_dane(names, verify.tlsa);
  if (!set) return fail(std::move(set.error()));
  return s;
}

Status<TlsError> TlsSession::set_pkix_names(const std::vector<std::string>& names) {
  // Wildcards only as a whole left-most label (RFC 6125), as browsers and MTAs do.
  SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  bool first_host = true;
  for (const std::string& name : names) {
    if (is_ip_literal(name)) continue;
    // The first replaces, the others add: any one of them may match.
    int ok = first_host ? SSL_set1_host(ssl_, name.c_str()) : SSL_add1_host(ssl_, name.c_str());
    if (ok != 1) return fail(make_error("invalid host name to verify '" + name + "'"));
    first_host = false;
  }
  if (first_host && !names.empty()) {
    // Address literals only: the certificate must carry the (first) address.
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), names.front().c_str()) != 1) {
      return fail(make_error("invalid IP address to verify '" + names.front() + "'"));
    }
  }
  return Ok{};
}

Status<TlsError> TlsSession::enable_dane(const std::vector<std::string>& names,
                                         const std::vector<DaneRecord>& records) {
  if (names.empty() || is_ip_literal(names.front())) {
    return fail(TlsError{"cannot use DANE: the TLSA base domain must be a host name"});
  }
  const std::string& base = names.front();
  // DANE-TA name checks (RFC 7672 §3.2.2) follow RFC 6125 as PKIX does.
  SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  // The base domain becomes the first reference identifier (and the SNI name, unless one
  // is set already).
  if (SSL_dane_enable(ssl_, base.c_str()) <= 0) {
    return fail(make_error("cannot enable DANE for '" + base + "'"));
  }
  // RFC 7672 §3.2.2: a DANE-TA certificate may name the base domain or the MX host.
  for (std::size_t i = 1; i < names.size(); ++i) {
    if (is_ip_literal(names[i])) continue;
    if (SSL_add1_host(ssl_, names[i].c_str()) != 1) {
      return fail(make_error("invalid host name to verify '" + names[i] + "'"));
    }
  }
  // RFC 7672 §3.1.1: a DANE-EE match binds the key to the host by itself.
  SSL_dane_set_flags(ssl_, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
  dane_ = true;
  for (const DaneRecord& r : records) {
    // PKIX-TA (0) and PKIX-EE (1) are unusable for SMTP (RFC 7672 §3.1.3); OpenSSL would
    // take them.
    if (r.usage != 2 && r.usage != 3) continue;
    ERR_clear_error();
    // 1 taken, 0 unusable (a selector or matching type OpenSSL does not know), -1 refused
    // (a digest of the wrong length, say): either way one record less to match.
    if (SSL_dane_tlsa_add(ssl_, r.usage, r.selector, r.matching_type, r.data.data(),
                          r.data.size()) > 0) {
      ++usable_tlsa_;
    }
    ERR_clear_error();
  }
  return Ok{};
}

TlsSession::~TlsSession() {
  // SSL_free treats a session that never sent close_notify as "bad" and marks its
  // SSL_SESSION unresumable, including the reference a cache took with get1_session().
  // Many MTAs just drop TCP after QUIT, and RFC 8446 section 6.1 dropped that rule, so
  // only a fatal TLS error (for which OpenSSL has already invalidated the session when
  // the alert went out or came in) ends resumption.
  if (ssl_ != nullptr && !failed_) {
    SSL_set_shutdown(ssl_, SSL_get_shutdown(ssl_) | SSL_SENT_SHUTDOWN);
  }
  // SSL_set_bio gave both BIOs to ssl_; SSL_free releases them.
  SSL_free(ssl_);
}

TlsSession::Progress TlsSession::fail_with(const char* what, int ssl_error) {
  std::string reason = drain_openssl_errors();
  if (reason.empty()) reason = ssl_error_name(ssl_error);
  failed_ = true;
  error_ = std::string(what) + ": " + reason;
  return Progress::Failed;
}

void TlsSession::feed_encrypted(std::string_view data) {
  if (failed_) return;  // nothing more can be read from a failed session
  while (!data.empty()) {
    int chunk = data.size() > static_cast<std::size_t>(INT_MAX)
                    ? INT_MAX
                    : static_cast<int>(data.size());
    ERR_clear_error();
    int n = BIO_write(as_bio(enc_in_), data.data(), chunk);
    if (n <= 0) {
      // A memory BIO only refuses on allocation failure.
      fail_with("cannot buffer received TLS data", SSL_ERROR_SYSCALL);
      return;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

TlsSession::Progress TlsSession::handshake() {
  if (failed_) return Progress::Failed;
  if (handshake_done_) return Progress::Done;
  ERR_clear_error();
  int r = SSL_do_handshake(ssl_);
  if (r == 1) return handshake_finished();
  int code = SSL_get_error(ssl_, r);
  switch (code) {
    case SSL_ERROR_WANT_READ:
    // enc_out never fills, but treat it alike: the owner drains enc_out and calls again.
    case SSL_ERROR_WANT_WRITE:
      return Progress::NeedMore;
    case SSL_ERROR_ZERO_RETURN:
      peer_closed_ = true;
      return fail_with("handshake failed", code);
    default:
      return fail_with("handshake failed", code);
  }
}

TlsSession::Progress TlsSession::handshake_finished() {
  handshake_done_ = true;
  // Remember the outcome on the session now, before a TLS 1.3 ticket (read later, by
  // SSL_read) is copied from it. A resumed session already carries its original's.
  if (role_ == Role::Client && SSL_session_reused(ssl_) != 1) {
    (void)remember_auth(SSL_get_session(ssl_), verify_key_,
                        live_auth(ssl_, dane_, usable_tlsa_));
  }
  ERR_clear_error();
  return Progress::Done;
}

TlsSession::Progress TlsSession::read_plain(std::string& out) {
  if (failed_) return Progress::Failed;
  // Finish a pending handshake here rather than inside SSL_read, which could also read a
  // ticket before handshake_finished() has annotated the session it is copied from.
  if (!handshake_done_) {
    Progress p = handshake();
    if (p != Progress::Done) return p;
  }
  char buf[16384];  // one TLS record's worth of plaintext per SSL_read
  for (;;) {
    std::size_t n = 0;
    ERR_clear_error();
    int r = SSL_read_ex(ssl_, buf, sizeof buf, &n);
    if (r == 1) {
      out.append(buf, n);
      continue;
    }
    int code = SSL_get_error(ssl_, r);
    switch (code) {
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE:
        return Progress::NeedMore;
      case SSL_ERROR_ZERO_RETURN:
        peer_closed_ = true;
        return Progress::Done;
      default:
        return fail_with("read failed", code);
    }
  }
}

TlsSession::Progress TlsSession::write_plain(std::string_view data) {
  if (failed_) return Progress::Failed;
  if (!handshake_done_) {
    // A write that started the handshake could stop half-way with WANT_READ, and OpenSSL
    // would then insist on the very same buffer again; the API has no way to hold it.
    failed_ = true;
    error_ = "write failed: handshake not complete";
    return Progress::Failed;
  }
  // Partial writes are off (SSL_MODE_ENABLE_PARTIAL_WRITE is never set), and enc_out
  // never pushes back, so one call takes everything; the loop only guards that promise.
  while (!data.empty()) {
    std::size_t written = 0;
    ERR_clear_error();
    int r = SSL_write_ex(ssl_, data.data(), data.size(), &written);
    if (r != 1) return fail_with("write failed", SSL_get_error(ssl_, r));
    data.remove_prefix(written);
  }
  return Progress::Done;
}

void TlsSession::take_encrypted(std::string& out) {
  std::size_t pending = BIO_ctrl_pending(as_bio(enc_out_));
  if (pending == 0) return;
  std::size_t old = out.size();
  out.resize(old + pending);
  std::size_t n = 0;
  ERR_clear_error();
  if (BIO_read_ex(as_bio(enc_out_), out.data() + old, pending, &n) != 1) n = 0;
  out.resize(old + n);
}

bool TlsSession::has_encrypted() const { return BIO_ctrl_pending(as_bio(enc_out_)) > 0; }

void TlsSession::shutdown() {
  // OpenSSL forbids SSL_shutdown after a fatal error, and during the handshake it only
  // fails; in both cases the connection just closes without a close_notify.
  if (failed_ || !handshake_done_) return;
  if ((SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN) != 0) return;
  ERR_clear_error();
  // 0 = close_notify queued, peer's not yet seen; 1 = both seen. Either way our part is
  // in enc_out. A failure here changes nothing the owner could act on.
  (void)SSL_shutdown(ssl_);
  ERR_clear_error();
}

PeerInfo TlsSession::peer_info() const {
  PeerInfo info;
  info.protocol = SSL_get_version(ssl_);
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl_)) {
    info.cipher = SSL_CIPHER_get_name(cipher);
    info.cipher_bits = SSL_CIPHER_get_bits(cipher, nullptr);
  }
  info.resumed = SSL_session_reused(ssl_) == 1;
  if (int group = SSL_get_negotiated_group(ssl_); group != 0) {
    const char* name = SSL_group_to_name(ssl_, group);
    info.group = name != nullptr ? name : std::to_string(group);
  }
  X509* cert = SSL_get0_peer_certificate(ssl_);
  if (cert != nullptr) {
    info.peer_subject = subject_rfc2253(cert);
    info.cert_sha256 = sha256_of(cert);
  }
  // A resumed handshake verified nothing itself; the original's outcome counts, if it was
  // asked the same (session_auth.hpp). The certificate is the original's too.
  PeerAuth auth = role_ == Role::Client && info.resumed && cert != nullptr
                      ? recall_auth(SSL_get_session(ssl_), verify_key_)
                      : live_auth(ssl_, dane_, usable_tlsa_);
  info.verified = auth.verified;
  info.dane = auth.dane;
  info.verify_error = std::move(auth.verify_error);
  info.verify_code = auth.verify_code;
  ERR_clear_error();
  return info;
}

SSL_SESSION* TlsSession::get1_session() {
  SSL_SESSION* session = SSL_get1_session(ssl_);
  if (session != nullptr && SSL_SESSION_is_resumable(session) != 1) {
    SSL_SESSION_free(session);
    return nullptr;
  }
  return session;
}

void TlsSession::set_session(SSL_SESSION* session) {
  if (session == nullptr) return;
  ERR_clear_error();
  // A refused session (wrong protocol family, say) only means a full handshake.
  (void)SSL_set_session(ssl_, session);
  ERR_clear_error();
}

}  // namespace secmx::tls
