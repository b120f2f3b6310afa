// policy.hpp - the sending policy of a recipient and the TLS level it asks for.
//
// The one spelling of both, from the config file through the policy engine and the queue
// record to the delivery attempt and the DSN. Plain values; pure functions; any thread.
//
// Policy is ordered by strength, BES < SOS < HOLD < REJECT: "raise to at least X" and
// "the stronger of two" are comparisons. TlsLevel is ordered the same way (None < Encrypt
// < Verify) and read through the Postfix-style predicates must_encrypt() / must_verify().
// The numeric values are stored in queue records (policy 0..2, REJECT is never stored;
// TLS 0..2): never renumber them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace secmx::model {

// DESIGN section 2: BES delivers over TLS when it can and in plaintext otherwise; SOS only
// over TLS; HOLD keeps the message queued until an operator acts; REJECT refuses it at the
// end of DATA.
enum class Policy : std::uint8_t { BES = 0, SOS = 1, HOLD = 2, REJECT = 3 };
inline constexpr Policy kPolicies[] = {Policy::BES, Policy::SOS, Policy::HOLD, Policy::REJECT};

// What TLS a delivery needs. None: no requirement (BES: TLS when offered, plaintext
// otherwise); Encrypt: any TLS >= 1.2; Verify: TLS whose certificate chain and name check out.
enum class TlsLevel : std::uint8_t { None = 0, Encrypt = 1, Verify = 2 };
inline constexpr TlsLevel kTlsLevels[] = {TlsLevel::None, TlsLevel::Encrypt, TlsLevel::Verify};

constexpr int strength(Policy p) { return static_cast<int>(p); }
constexpr int strength(TlsLevel l) { return static_cast<int>(l); }
constexpr Policy stronger(Policy a, Policy b) { return strength(a) >= strength(b) ? a : b; }
constexpr TlsLevel stronger(TlsLevel a, TlsLevel b) { return strength(a) >= strength(b) ? a : b; }

// Postfix's TLS_MUST_ENCRYPT / TLS_MUST_MATCH: plaintext is out / the peer must be
// authenticated.
constexpr bool must_encrypt(TlsLevel l) { return strength(l) >= strength(TlsLevel::Encrypt); }
constexpr bool must_verify(TlsLevel l) { return l == TlsLevel::Verify; }

// The policy's mail may cross the Internet only over TLS (SOS), or not at all (HOLD).
constexpr bool is_sensitive(Policy p) { return p == Policy::SOS || p == Policy::HOLD; }

// Names as the config file, logs, --queue-dump, the admin API and DSNs write them:
// "BES", "SOS", "HOLD", "REJECT"; "none", "encrypt", "verify".
const char* to_string(Policy p);
const char* to_string(TlsLevel l);

// Case-insensitive; nullopt for anything else (no trimming, no abbreviations).
std::optional<Policy> parse_policy(std::string_view text);
std::optional<TlsLevel> parse_tls_level(std::string_view text);

}  // namespace secmx::model
