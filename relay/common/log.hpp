// log.hpp - one spdlog logger per module, and escaping for peer-supplied text.
//
// Loggers are created once by init_logging() on the main thread before any other thread
// starts; logger(name) afterwards is safe from any thread (spdlog loggers are thread-safe).
// Lines are "key=value" fields; anything a peer sent goes through escape() first so that a
// hostile client cannot forge log lines or flood them.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

#include "relay/common/result.hpp"

namespace secmx::log {

// level: "trace" ... "critical"; target: "stderr" or a file path.
void init_logging(std::string_view level, std::string_view target = "stderr");

// SIGHUP: a new level for every logger, existing and future. Any thread.
void set_level(std::string_view level);

// SIGHUP, after logrotate renamed the file: log to a new file at the configured path.
// If it cannot be opened the current file stays in use and the error is returned. Nothing
// to do (Ok) when logging to stderr. Any thread; lines logged meanwhile are not lost.
Status<std::string> reopen();

// The named module logger ("smtpd", "queue", "tls", ...), created on first use.
std::shared_ptr<spdlog::logger> logger(const std::string& name);

// Printable ASCII only, control bytes as \xNN, cut to `max` bytes with "..." appended.
std::string escape(std::string_view peer_text, std::size_t max = 200);

}  // namespace secmx::log
