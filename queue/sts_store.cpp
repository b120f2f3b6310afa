// sts_store.cpp - the MTA-STS policy cache in LMDB (see sts_store.hpp).
//
// Record layout, version 1 (integers big-endian):
//   u8 version=1, u8 id length, id, i64 fetched_us, policy bytes to the end.
#include "queue/sts_store.hpp"

#include <lmdb.h>

#include <cerrno>

#include "queue/lmdb_txn.hpp"
#include "queue/lmdb_values.hpp"
#include "relay/common/log.hpp"

namespace secmx::queue {
namespace {

constexpr unsigned char kVersion = 1;
constexpr std::size_t kFixed = 1 + 1 + 8;  // version, id length, fetched_us
constexpr std::size_t kMaxKey = 255;        // a domain name at most; LMDB's limit is 511

using lmdb::as_val;
using lmdb::as_view;

Result<std::string, Error> encode(const StsRecord& r) {
  if (r.id.empty() || r.id.size() > 255) {
    return fail(Error{Error::Kind::Invalid, "policy id must be 1..255 bytes"});
  }
  std::string out;
  out.reserve(kFixed + r.id.size() + r.policy.size());
  out += static_cast<char>(kVersion);
  out += static_cast<char>(r.id.size());
  out += r.id;
  auto t = static_cast<std::uint64_t>(r.fetched_us);
  for (int i = 7; i >= 0; --i) out += static_cast<char>((t >> (i * 8)) & 0xFF);
  out += r.policy;
  return out;
}

std::optional<StsRecord> decode(std::string_view in) {
  if (in.size() < kFixed || static_cast<unsigned char>(in[0]) != kVersion) return std::nullopt;
  std::size_t id_len = static_cast<unsigned char>(in[1]);
  if (id_len == 0 || in.size() < kFixed + id_len) return std::nullopt;
  StsRecord r;
  r.id = std::string(in.substr(2, id_len));
  std::uint64_t t = 0;
  for (std::size_t i = 0; i < 8; ++i) t = (t << 8) | static_cast<unsigned char>(in[2 + id_len + i]);
  r.fetched_us = static_cast<std::int64_t>(t);
  r.policy = std::string(in.substr(kFixed + id_len));
  return r;
}

Status<Error> check_key(std::string_view domain) {
  if (domain.empty() || domain.size() > kMaxKey) {
    return fail(Error{Error::Kind::Invalid, "domain must be 1..255 bytes"});
  }
  return Ok{};
}

}  // namespace

struct StsStore::Impl {
  explicit Impl(lmdb::Env e) : env(std::move(e)), readers(env.get()) {}
  // Declaration order matters: the pool's transactions end before the env closes.
  lmdb::Env env;
  lmdb::ReadTxnPool readers;
  MDB_dbi dbi = 0;
};

Result<std::unique_ptr<StsStore>, Error> StsStore::open(const std::string& path,
                                                         std::uint64_t map_size) {
  MDB_env* raw = nullptr;
  if (int rc = mdb_env_create(&raw); rc != 0) return fail(lmdb::store_error(rc, "mdb_env_create"));
  lmdb::Env env(raw);
  if (int rc = mdb_env_set_maxdbs(env.get(), 1); rc != 0) {
    return fail(lmdb::store_error(rc, "mdb_env_set_maxdbs"));
  }
  if (int rc = mdb_env_set_mapsize(env.get(), map_size); rc != 0) {
    return fail(lmdb::store_error(rc, "mdb_env_set_mapsize"));
  }
  if (int rc = mdb_env_open(env.get(), path.c_str(), MDB_NOSUBDIR | MDB_NOTLS, 0600); rc != 0) {
    return fail(lmdb::store_error(rc, "mdb_env_open " + path));
  }
  int stale = 0;
  mdb_reader_check(env.get(), &stale);
  auto impl = std::make_unique<Impl>(std::move(env));
  {
    lmdb::WriteTxn txn;
    if (int rc = txn.begin(impl->env.get()); rc != 0) return fail(lmdb::store_error(rc, "begin"));
    if (int rc = mdb_dbi_open(txn.get(), "policies", MDB_CREATE, &impl->dbi); rc != 0) {
      return fail(lmdb::store_error(rc, "open policies"));
    }
    if (int rc = txn.commit(); rc != 0) return fail(lmdb::store_error(rc, "commit"));
  }
  return std::unique_ptr<StsStore>(new StsStore(std::move(impl)));
}

StsStore::StsStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StsStore::~StsStore() = default;

Result<std::optional<StsRecord>, Error> StsStore::get(std::string_view domain) {
  if (auto st = check_key(domain); !st) return fail(st.error());
  lmdb::ReadTxn txn;
  if (int rc = txn.begin(impl_->readers); rc != 0) return fail(lmdb::store_error(rc, "begin read"));
  MDB_val key = as_val(domain), value{};
  int rc = mdb_get(txn.get(), impl_->dbi, &key, &value);
  if (rc == MDB_NOTFOUND) return std::optional<StsRecord>();
  if (rc != 0) return fail(lmdb::store_error(rc, "get"));
  auto record = decode(as_view(value));
  if (!record) {
    return fail(Error{Error::Kind::Corrupt, "MTA-STS record for " + log::escape(domain) +
                                                " does not decode"});
  }
  return std::optional<StsRecord>(std::move(*record));
}

Status<Error> StsStore::put(std::string_view domain, const StsRecord& record) {
  if (auto st = check_key(domain); !st) return st;
  auto bytes = encode(record);
  if (!bytes) return fail(bytes.error());
  lmdb::WriteTxn txn;
  if (int rc = txn.begin(impl_->env.get()); rc != 0) return fail(lmdb::store_error(rc, "begin"));
  MDB_val key = as_val(domain), value = as_val(*bytes);
  if (int rc = mdb_put(txn.get(), impl_->dbi, &key, &value, 0); rc != 0) {
    return fail(lmdb::store_error(rc, "put"));
  }
  if (int rc = txn.commit(); rc != 0) return fail(lmdb::store_error(rc, "commit"));
  return Ok{};
}

Result<bool, Error> StsStore::remove(std::string_view domain) {
  if (auto st = check_key(domain); !st) return fail(st.error());
  lmdb::WriteTxn txn;
  if (int rc = txn.begin(impl_->env.get()); rc != 0) return fail(lmdb::store_error(rc, "begin"));
  MDB_val key = as_val(domain);
  int rc = mdb_del(txn.get(), impl_->dbi, &key, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return fail(lmdb::store_error(rc, "del"));
  if (int c = txn.commit(); c != 0) return fail(lmdb::store_error(c, "commit"));
  return true;
}

Result<StsAll, Error> StsStore::all() {
  lmdb::ReadTxn txn;
  if (int rc = txn.begin(impl_->readers); rc != 0) return fail(lmdb::store_error(rc, "begin read"));
  lmdb::Cursor cursor;
  if (int rc = cursor.open(txn.get(), impl_->dbi); rc != 0) return fail(lmdb::store_error(rc, "cursor"));
  StsAll out;
  MDB_val key{}, value{};
  for (int rc = cursor.get(&key, &value, MDB_FIRST); rc != MDB_NOTFOUND;
       rc = cursor.get(&key, &value, MDB_NEXT)) {
    if (rc != 0) return fail(lmdb::store_error(rc, "cursor get"));
    if (auto record = decode(as_view(value))) {
      out.entries.push_back({std::string(as_view(key)), std::move(*record)});
    } else {
      ++out.skipped;
    }
  }
  return out;
}

std::string sts_store_path(const std::string& queue_dir) {
  std::string dir = queue_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir + "/mta-sts.mdb";
}

}  // namespace secmx::queue
