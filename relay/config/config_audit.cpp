// config_audit.cpp - the [audit] section (the audit trail, docs/audit.md "Settings").
//
// Part of load_config(): same thread, same rules (every issue at its line, defaults left
// standing when a value is wrong). key_file and stream_file are paths, resolved with the
// others (config_paths.cpp); the key file itself is made and checked at start-up
// (relay/audit/audit_key.hpp), not here, so that --check works before the first start.
#include "relay/config/config_reader.hpp"

namespace secmx::config::detail {

void read_audit(const Section& root, AuditConfig& out) {
  Section s = root.sub("audit");
  s.check_keys({"enabled", "key_file", "retention", "checkpoint_interval", "stream_file"});
  s.boolean("enabled", out.enabled);
  if (s.path("key_file", out.key_file) && out.key_file.empty()) {
    // Checkpoints are what makes cutting or rewriting the chain visible: never without.
    s.fail("key_file", "must name a file (it is created at the first start)");
    out.key_file = AuditConfig{}.key_file;
  }
  // A record younger than a day is never pruned: retention is a records-authority period.
  s.duration("retention", out.retention, std::chrono::hours(24));
  if (s.duration("checkpoint_interval", out.checkpoint_interval, std::chrono::seconds(1)) &&
      out.checkpoint_interval > std::chrono::hours(24)) {
    s.fail("checkpoint_interval", "must be at most 1d");
    out.checkpoint_interval = AuditConfig{}.checkpoint_interval;
  }
  s.path("stream_file", out.stream_file);
}

}  // namespace secmx::config::detail
