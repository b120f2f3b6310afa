// lmdb_values.hpp - what every LMDB-backed store in queue/ says alike: bytes as MDB_val
// and back, a big-endian u64 key (byte order = numeric order), and an LMDB or errno code
// as a store Error (full disk, corruption, or I/O). Private to queue/.
#pragma once

#include <lmdb.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>

#include "queue/store.hpp"

namespace secmx::queue::lmdb {

inline MDB_val as_val(const void* data, std::size_t size) {
  return MDB_val{size, const_cast<void*>(data)};
}

inline MDB_val as_val(std::string_view s) { return as_val(s.data(), s.size()); }

inline std::string_view as_view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

using U64Key = std::array<unsigned char, 8>;

inline U64Key u64_key(std::uint64_t v) {
  U64Key key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<unsigned char>(v >> ((7 - i) * 8));
  return key;
}

inline std::uint64_t u64_of_key(std::string_view key) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8 && i < key.size(); ++i) v = (v << 8) | static_cast<unsigned char>(key[i]);
  return v;
}

// MDB_MAP_FULL, MDB_TXN_FULL, ENOSPC and EDQUOT are Full (452 upstream); damaged pages
// are Corrupt; anything else is Io.
inline Error store_error(int rc, std::string_view what) {
  Error::Kind kind = Error::Kind::Io;
  switch (rc) {
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case ENOSPC:
    case EDQUOT:
      kind = Error::Kind::Full;
      break;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
      kind = Error::Kind::Corrupt;
      break;
    default:
      break;
  }
  std::string message(what);
  message += ": ";
  message += mdb_strerror(rc);
  return Error{kind, std::move(message)};
}

}  // namespace secmx::queue::lmdb
