// record_codec.hpp - the durable, versioned binary form of an Envelope.
//
// Pure functions, thread-agnostic, no LMDB. encode_envelope() writes one record into a
// caller-owned buffer (reused across calls to avoid allocations on the hot path); it fails
// with Error::Kind::Invalid only for an envelope no record may hold (an enum out of range).
// decode_envelope() trusts nothing: a wrong version, a bad checksum, a length past the end,
// an enum out of range or trailing bytes give Error::Kind::Corrupt, never a crash or an
// allocation sized by the input.
//
// Layout (version 4; integers little-endian, varint = LEB128, str = varint length + bytes):
//   u8 version, u8 flags (1 smtputf8, 2 requiretls, 4 held, 8 delay_notified,
//   16 tls_report), u8 body_type, u8 ret,
//   u64 id, i64 arrival_us, i64 next_attempt_us, varint attempts, varint body_size,
//   str sender, envid, client_address, client_helo, auth_user, tls_protocol, tls_cipher,
//   [v4+] str message_id, classification,
//   varint n, n x { u8 notify, u8 state, u8 policy, u8 tls, varint attempts,
//                   str address, orcpt, policy_reason, last_status, last_reply, remote_mta,
//                   [v2+] str last_tls, varint last_attempt_us,
//                   [v3+] str last_cert_sha256, last_dnssec,
//                   [v4+] varint history_dropped, varint h,
//                         h x { i64 time_us, str host, address, method, tls, cert_sha256,
//                               dnssec, status, reply } },
//   u32 CRC-32C of every byte before it.
// A new layout gets a new version byte; decode keeps reading the old ones, and a field an
// older record does not have reads as empty (0). A new flag needs no new version: records
// written before it have the bit clear (false); decode refuses bits it does not know.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "queue/store.hpp"
#include "relay/model/envelope.hpp"

namespace secmx::queue {

// 2: per-recipient last_tls, last_attempt_us; 3: last_cert_sha256, last_dnssec (the
// attempt's evidence); 4: the envelope's message_id and classification, each recipient's
// attempt history and how many attempts it dropped. 1 to 3 are still read (no history).
inline constexpr std::uint8_t kRecordVersion = 4;

// Replaces the contents of `out` with the record for `envelope`.
Status<Error> encode_envelope(const Envelope& envelope, std::string& out);

Result<Envelope, Error> decode_envelope(std::string_view record);

// CRC-32C (Castagnoli) as used for the record trailer; exposed for tests and tools.
// Uses the SSE4.2 instruction where the CPU has it; the portable form must agree.
std::uint32_t record_checksum(std::string_view bytes);
std::uint32_t record_checksum_portable(std::string_view bytes);

}  // namespace secmx::queue
