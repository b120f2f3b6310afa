// log.hpp - one spdlog logger per module, and escaping for peer-supplied text.
//
// Loggers are created once by init_logging() on the main thread before any other thread
// starts; logger(name) afterwards is safe from any thread (spdlog loggers are thread-safe).
// Lines are "key=value" fields; anything a peer sent goes through escape() first so that a
// hostile client cannot forge log lines or flood them.
//
// Escaping, two layers with one rule between them:
// - escape(text, max) at the call site: every value that came from a request, a peer or a
//   message (addresses, domains, ids as sent, replies, reasons, header text, paths). Its
//   output is printable ASCII only (0x20..0x7e), is cut to `max`, and is reversible:
//   backslash itself becomes \x5c, so "\xNN" in its output always means the byte NN.
// - The line formatter (every sink made here) then writes each byte of the message outside
//   0x20..0x7e as \xNN and leaves everything else, backslash included, as it is. So no line
//   can carry a raw CR, LF, NUL, other C0 byte, DEL or non-ASCII byte whatever a call site
//   forgot, and escape()'s output passes through unchanged: it is never escaped twice.
//   The net is not reversible on its own (a literal backslash-x typed by a peer is kept as
//   is) and does not cut length; that is why call sites still use escape().
//
// Two line shapes, chosen once at start ([log] format): Format::Secmx, "<RFC 3339 time>
// <level> <module>: <message>", and Format::Postfix, the syslog shape Postfix's own tools
// read (pflogsumm): "<RFC 3339 time> <host> secmx/<program>[<pid>]: <message>", where the
// program is the module under Postfix's name for the same job (smtpd, cleanup, qmgr, smtp,
// bounce) and warnings and errors start with "warning: " / "error: " as Postfix's do. The
// message text of an event that Postfix's tools parse is rendered in log_lines.hpp (and
// delivery/attempt_log.hpp), each event in both shapes in one place.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

#include "relay/common/result.hpp"

namespace secmx::log {

enum class Format { Secmx, Postfix };

// level: "trace" ... "critical"; target: "stderr" or a file path; hostname: the host field
// of Format::Postfix lines.
void init_logging(std::string_view level, std::string_view target = "stderr",
                  Format format = Format::Secmx, std::string_view hostname = "localhost");

// The shape init_logging() chose. Any thread.
Format format();

// Format::Postfix: the program name a module's lines carry ("delivery" -> "smtp").
std::string_view postfix_program(std::string_view module);

// SIGHUP: a new level for every logger, existing and future. Any thread.
void set_level(std::string_view level);

// SIGHUP, after logrotate renamed the file: log to a new file at the configured path.
// If it cannot be opened the current file stays in use and the error is returned. Nothing
// to do (Ok) when logging to stderr. Any thread; lines logged meanwhile are not lost.
Status<std::string> reopen();

// The named module logger ("smtpd", "queue", "tls", ...), created on first use.
std::shared_ptr<spdlog::logger> logger(const std::string& name);

// Printable ASCII only: control bytes, DEL, non-ASCII bytes and backslash as \xNN; cut to
// `max` output bytes with "..." appended.
std::string escape(std::string_view peer_text, std::size_t max = 200);

}  // namespace secmx::log
