// audit_stream.hpp - the optional copy of the audit trail as JSON lines (audit.stream_file),
// for a SIEM to tail.
//
// Each committed record's JSON is appended as one line after its commit (the commit
// writer's on_audit hook), so the file never holds a record the store does not; a crash
// between the commit and the write loses the line, not the record (the store is the
// evidence, the stream a convenience). reopen() (SIGHUP) closes and opens the file again
// by name, so that logrotate can rename it. A write that fails is counted and logged once
// per failure streak, never retried. Thread-safe (one mutex: the writer thread appends,
// the main loop reopens).
#pragma once

#include <cstdio>
#include <mutex>
#include <span>
#include <string>

#include "queue/store.hpp"

namespace secmx::audit {

class AuditStream {
 public:
  // Opens `path` for appending (created 0600 when missing); an error is logged and the
  // stream stays closed until a reopen() succeeds.
  explicit AuditStream(std::string path);
  ~AuditStream();
  AuditStream(const AuditStream&) = delete;
  AuditStream& operator=(const AuditStream&) = delete;

  void append(std::span<const queue::AuditRecord> records);
  void reopen();
  bool is_open() const;

 private:
  void open_locked();

  std::string path_;
  mutable std::mutex mutex_;
  std::FILE* file_ = nullptr;
  bool failing_ = false;
};

}  // namespace secmx::audit
