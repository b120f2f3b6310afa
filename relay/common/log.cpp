#include "relay/common/log.hpp"

#include <spdlog/details/file_helper.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>
#include <mutex>

namespace secmx::log {
namespace {

constexpr const char* kHex = "0123456789abcdef";

void append_hex(unsigned char c, spdlog::memory_buf_t& dest) {
  const char esc[4] = {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
  dest.append(esc, esc + 4);
}

// The message part of every line (%* in kPattern): bytes 0x20..0x7e as they are, any other
// byte as \xNN. Backslash is left alone, so what escape() produced passes unchanged.
class PrintablePayload final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    const char* run = msg.payload.data();  // start of the current printable run
    const char* end = run + msg.payload.size();
    for (const char* p = run; p != end; ++p) {
      auto c = static_cast<unsigned char>(*p);
      if (c >= 0x20 && c < 0x7f) continue;
      dest.append(run, p);
      append_hex(c, dest);
      run = p + 1;
    }
    dest.append(run, end);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<PrintablePayload>();
  }
};

// Format::Postfix: the module's Postfix program name (%N).
class PostfixProgram final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    auto name = postfix_program(std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    dest.append(name.data(), name.data() + name.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<PostfixProgram>();
  }
};

// Format::Postfix: the severity as Postfix writes it before the text (%W); nothing for
// info and below, as Postfix's informational lines have no prefix.
class PostfixSeverity final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string_view word;
    if (msg.level == spdlog::level::warn) word = "warning: ";
    if (msg.level >= spdlog::level::err && msg.level != spdlog::level::off) word = "error: ";
    dest.append(word.data(), word.data() + word.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<PostfixSeverity>();
  }
};

constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%e%z %l %n: %*";

// The host field of a syslog line is one word; '%' would start a pattern flag.
std::string postfix_pattern(std::string_view hostname) {
  std::string host;
  for (char c : hostname) {
    if (c == '%') {
      host += "%%";
    } else if (c > 0x20 && c < 0x7f) {
      host += c;
    }
  }
  if (host.empty()) host = "localhost";
  // Microseconds and a "+hh:mm" offset: the RFC 3339 stamp rsyslog writes and pflogsumm reads.
  return "%Y-%m-%dT%H:%M:%S.%f%z " + host + " secmx/%N[%P]: %W%*";
}

std::atomic<Format> g_format{Format::Secmx};
std::string g_pattern = kPattern;  // under g_mutex

std::unique_ptr<spdlog::formatter> line_formatter(const std::string& pattern = kPattern) {
  auto f = std::make_unique<spdlog::pattern_formatter>();
  f->add_flag<PrintablePayload>('*');
  f->add_flag<PostfixProgram>('N');
  f->add_flag<PostfixSeverity>('W');
  f->set_pattern(pattern);
  return f;
}

// A file sink that can start a new file at its path (log rotation: logrotate renames the
// file, then SIGHUP). spdlog's basic_file_sink cannot; this one opens the new file first
// and swaps it in under the sink's lock only if that worked, so a failed reopen (a
// directory the run user cannot write) keeps logging to the old file.
class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit ReopenableFileSink(const std::string& path) : path_(path) { file_->open(path_); }

  Status<std::string> reopen() {
    auto next = std::make_unique<spdlog::details::file_helper>();
    try {
      next->open(path_);
    } catch (const spdlog::spdlog_ex& e) {
      return fail(std::string(e.what()));
    }
    std::lock_guard lock(mutex_);
    file_ = std::move(next);  // the old file is closed (and flushed) here, without throwing
    return Ok{};
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    file_->write(line);
  }
  void flush_() override { file_->flush(); }

 private:
  std::string path_;
  std::unique_ptr<spdlog::details::file_helper> file_ =
      std::make_unique<spdlog::details::file_helper>();
};

std::mutex g_mutex;
spdlog::sink_ptr g_sink;
std::shared_ptr<ReopenableFileSink> g_file;  // g_sink when logging to a file
spdlog::level::level_enum g_level = spdlog::level::info;
}  // namespace

std::string_view postfix_program(std::string_view module) {
  if (module == "delivery") return "smtp";
  if (module == "scheduler") return "qmgr";
  if (module == "dsn") return "bounce";
  if (module == "main") return "master";
  return module;
}

Format format() { return g_format.load(std::memory_order_relaxed); }

void init_logging(std::string_view level, std::string_view target, Format format,
                  std::string_view hostname) {
  std::lock_guard lock(g_mutex);
  g_format = format;
  g_pattern = format == Format::Postfix ? postfix_pattern(hostname) : std::string(kPattern);
  g_file.reset();
  if (target == "stderr" || target.empty()) {
    g_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    g_file = std::make_shared<ReopenableFileSink>(std::string(target));
    g_sink = g_file;
  }
  g_sink->set_formatter(line_formatter(g_pattern));
  g_level = spdlog::level::from_str(std::string(level));
  spdlog::drop_all();
  spdlog::flush_on(spdlog::level::info);
}

void set_level(std::string_view level) {
  std::lock_guard lock(g_mutex);
  g_level = spdlog::level::from_str(std::string(level));
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->set_level(g_level); });
}

Status<std::string> reopen() {
  std::shared_ptr<ReopenableFileSink> file;
  {
    std::lock_guard lock(g_mutex);
    file = g_file;
  }
  if (!file) return Ok{};
  return file->reopen();
}

std::shared_ptr<spdlog::logger> logger(const std::string& name) {
  if (auto l = spdlog::get(name)) return l;
  std::lock_guard lock(g_mutex);
  if (auto l = spdlog::get(name)) return l;
  if (!g_sink) {
    g_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    g_sink->set_formatter(line_formatter(g_pattern));
  }
  auto l = std::make_shared<spdlog::logger>(name, g_sink);
  l->set_level(g_level);
  // Each line reaches the file as it is logged (operators tail it; a crash keeps it):
  // spdlog::flush_on() only reaches loggers that exist when it is called.
  l->flush_on(spdlog::level::info);
  spdlog::register_logger(l);
  return l;
}

std::string escape(std::string_view s, std::size_t max) {
  const char* hex = kHex;
  std::string out;
  out.reserve(std::min(s.size(), max) + 8);
  for (unsigned char c : s) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace secmx::log
