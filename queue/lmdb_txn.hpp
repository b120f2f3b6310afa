// lmdb_txn.hpp - move-only RAII owners for LMDB environments, transactions and cursors.
//
// Private to queue/ (lmdb_store.cpp, sts_store.cpp). Every type aborts/closes in its
// destructor. WriteTxn::commit() forgets the handle before calling mdb_txn_commit, because
// LMDB frees the transaction whether or not the commit succeeds. A cursor opened in a
// write transaction is freed by LMDB when that transaction ends, so it must be destroyed
// before commit() (keep it in an inner scope). Read transactions come from a ReadTxnPool
// and are reset and handed back on destruction (the env is opened MDB_NOTLS, so any thread
// may take one); a write transaction must stay on the thread that began it.
#pragma once

#include <lmdb.h>

#include <mutex>
#include <utility>
#include <vector>

namespace secmx::queue::lmdb {

class Env {
 public:
  Env() = default;
  explicit Env(MDB_env* env) : env_(env) {}
  Env(Env&& o) noexcept : env_(std::exchange(o.env_, nullptr)) {}
  Env& operator=(Env&& o) noexcept {
    if (this != &o) {
      reset();
      env_ = std::exchange(o.env_, nullptr);
    }
    return *this;
  }
  ~Env() { reset(); }

  MDB_env* get() const { return env_; }
  void reset() {
    if (env_ != nullptr) mdb_env_close(std::exchange(env_, nullptr));
  }

 private:
  MDB_env* env_ = nullptr;
};

class WriteTxn {
 public:
  WriteTxn() = default;
  WriteTxn(WriteTxn&& o) noexcept : txn_(std::exchange(o.txn_, nullptr)) {}
  WriteTxn& operator=(WriteTxn&& o) noexcept {
    if (this != &o) {
      abort();
      txn_ = std::exchange(o.txn_, nullptr);
    }
    return *this;
  }
  ~WriteTxn() { abort(); }

  // Returns an LMDB/errno code; 0 on success.
  int begin(MDB_env* env) {
    abort();
    return mdb_txn_begin(env, nullptr, 0, &txn_);
  }
  int commit() {
    // LMDB frees the handle on success and on failure alike.
    return mdb_txn_commit(std::exchange(txn_, nullptr));
  }
  void abort() {
    if (txn_ != nullptr) mdb_txn_abort(std::exchange(txn_, nullptr));
  }
  MDB_txn* get() const { return txn_; }

 private:
  MDB_txn* txn_ = nullptr;
};

// A few reset read transactions kept for reuse: renew is cheaper than begin, which has
// to find and lock a reader slot.
class ReadTxnPool {
 public:
  static constexpr std::size_t kMaxIdle = 16;

  explicit ReadTxnPool(MDB_env* env) : env_(env) {}
  ReadTxnPool(const ReadTxnPool&) = delete;
  ReadTxnPool& operator=(const ReadTxnPool&) = delete;
  ~ReadTxnPool() {
    for (MDB_txn* t : idle_) mdb_txn_abort(t);
  }

  int acquire(MDB_txn** out) {
    MDB_txn* txn = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        txn = idle_.back();
        idle_.pop_back();
      }
    }
    if (txn != nullptr) {
      if (mdb_txn_renew(txn) == 0) {
        *out = txn;
        return 0;
      }
      mdb_txn_abort(txn);
    }
    return mdb_txn_begin(env_, nullptr, MDB_RDONLY, out);
  }

  void release(MDB_txn* txn) {
    mdb_txn_reset(txn);
    {
      std::lock_guard lock(mutex_);
      if (idle_.size() < kMaxIdle) {
        idle_.push_back(txn);
        return;
      }
    }
    mdb_txn_abort(txn);
  }

 private:
  MDB_env* env_;
  std::mutex mutex_;
  std::vector<MDB_txn*> idle_;
};

class ReadTxn {
 public:
  ReadTxn() = default;
  ReadTxn(ReadTxn&& o) noexcept
      : pool_(std::exchange(o.pool_, nullptr)), txn_(std::exchange(o.txn_, nullptr)) {}
  ReadTxn& operator=(ReadTxn&& o) noexcept {
    if (this != &o) {
      release();
      pool_ = std::exchange(o.pool_, nullptr);
      txn_ = std::exchange(o.txn_, nullptr);
    }
    return *this;
  }
  ~ReadTxn() { release(); }

  int begin(ReadTxnPool& pool) {
    release();
    int rc = pool.acquire(&txn_);
    if (rc == 0) pool_ = &pool;
    return rc;
  }
  MDB_txn* get() const { return txn_; }

 private:
  void release() {
    if (txn_ != nullptr) pool_->release(std::exchange(txn_, nullptr));
    pool_ = nullptr;
  }

  ReadTxnPool* pool_ = nullptr;
  MDB_txn* txn_ = nullptr;
};

class Cursor {
 public:
  Cursor() = default;
  Cursor(Cursor&& o) noexcept : cursor_(std::exchange(o.cursor_, nullptr)) {}
  Cursor& operator=(Cursor&& o) noexcept {
    if (this != &o) {
      close();
      cursor_ = std::exchange(o.cursor_, nullptr);
    }
    return *this;
  }
  ~Cursor() { close(); }

  int open(MDB_txn* txn, MDB_dbi dbi) {
    close();
    return mdb_cursor_open(txn, dbi, &cursor_);
  }
  int get(MDB_val* key, MDB_val* value, MDB_cursor_op op) {
    return mdb_cursor_get(cursor_, key, value, op);
  }
  // Deletes the current item; a following MDB_NEXT yields the item after it.
  int del() { return mdb_cursor_del(cursor_, 0); }
  void close() {
    if (cursor_ != nullptr) mdb_cursor_close(std::exchange(cursor_, nullptr));
  }

 private:
  MDB_cursor* cursor_ = nullptr;
};

}  // namespace secmx::queue::lmdb
