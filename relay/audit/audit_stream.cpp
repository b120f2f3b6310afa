// audit_stream.cpp - see audit_stream.hpp.
#include "relay/audit/audit_stream.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "relay/common/log.hpp"

namespace secmx::audit {

AuditStream::AuditStream(std::string path) : path_(std::move(path)) {
  std::lock_guard lock(mutex_);
  open_locked();
}

AuditStream::~AuditStream() {
  if (file_) std::fclose(file_);
}

void AuditStream::open_locked() {
  if (file_) {
    std::fclose(file_);
    file_ = nullptr;
  }
  int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) file_ = ::fdopen(fd, "a");
  if (!file_) {
    log::logger("audit")->error("event=audit-stream-error file={} error=\"{}\"", path_,
                                std::strerror(errno));
    if (fd >= 0) ::close(fd);
  }
  failing_ = false;
}

void AuditStream::reopen() {
  std::lock_guard lock(mutex_);
  open_locked();
}

bool AuditStream::is_open() const {
  std::lock_guard lock(mutex_);
  return file_ != nullptr;
}

void AuditStream::append(std::span<const queue::AuditRecord> records) {
  std::lock_guard lock(mutex_);
  if (!file_) return;
  bool ok = true;
  for (const auto& r : records) {
    // The payload is compact JSON (audit_record.hpp to_record): one line already.
    ok = ok && std::fwrite(r.payload.data(), 1, r.payload.size(), file_) == r.payload.size() &&
         std::fputc('\n', file_) != EOF;
  }
  ok = ok && std::fflush(file_) == 0;
  if (!ok && !failing_) {
    log::logger("audit")->error("event=audit-stream-error file={} error=\"{}\"", path_,
                                std::strerror(errno));
  }
  failing_ = !ok;
}

}  // namespace secmx::audit
