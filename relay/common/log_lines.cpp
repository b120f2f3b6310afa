#include "relay/common/log_lines.hpp"

#include <fmt/format.h>
#include <spdlog/sinks/sink.h>

#include <algorithm>
#include <cstdio>
#include <string_view>

namespace secmx::log {
namespace {

// Postfix names a client "host[ip]"; SecMX does not look up client names, and Postfix
// writes "unknown" when it has none.
std::string client(const std::string& ip) { return "unknown[" + escape(ip, 64) + "]"; }

// Message-ID: <x@y> -> x@y, for "message-id=<...>".
std::string_view strip_brackets(std::string_view id) {
  while (!id.empty() && (id.front() == ' ' || id.front() == '\t')) id.remove_prefix(1);
  while (!id.empty() && (id.back() == ' ' || id.back() == '\t')) id.remove_suffix(1);
  if (id.size() >= 2 && id.front() == '<' && id.back() == '>') id = id.substr(1, id.size() - 2);
  return id;
}

}  // namespace

void write(const std::vector<Line>& lines) {
  // Straight to the sinks, flushed once after the last line: logger->info() flushes after
  // every line (flush_on(info)), which cost the accept path one write(2) to the log file
  // per line, two or three per message. Each line still passes its module's level and
  // carries its module's name, and all of them are in the file before this returns.
  std::vector<spdlog::sink_ptr> written;
  try {
    for (const auto& l : lines) {
      auto lg = logger(l.module);
      if (!lg->should_log(spdlog::level::info)) continue;
      spdlog::details::log_msg msg(lg->name(), spdlog::level::info, l.text);
      for (const auto& sink : lg->sinks()) {
        if (!sink->should_log(msg.level)) continue;
        sink->log(msg);
        if (std::find(written.begin(), written.end(), sink) == written.end()) {
          written.push_back(sink);
        }
      }
    }
    for (const auto& sink : written) sink->flush();
  } catch (const std::exception& e) {
    // What spdlog's loggers do with a sink that fails: say so on stderr and go on.
    std::fprintf(stderr, "secmx-relay: cannot write the log: %s\n", e.what());
  }
}

std::string connect_line(const Connect& e, Format f) {
  if (f == Format::Postfix) {
    return fmt::format("connect from {} session=S{} port={}", client(e.ip), e.session, e.port);
  }
  return fmt::format("S{} connect from [{}]:{}", e.session, e.ip, e.port);
}

std::string disconnect_line(const Disconnect& e, Format f) {
  if (f == Format::Postfix) {
    return fmt::format(
        "disconnect from {} commands={} mail={} rcpt={} data={} queued={} ms={} session=S{}",
        client(e.ip), e.commands, e.mail, e.rcpt, e.data, e.queued, e.ms, e.session);
  }
  return fmt::format("S{} disconnect from [{}] commands={} mail={} rcpt={} data={} queued={} ms={}",
                     e.session, e.ip, e.commands, e.mail, e.rcpt, e.data, e.queued, e.ms);
}

std::string reject_line(const Reject& e, Format f) {
  bool rcpt = e.stage == Reject::Stage::Rcpt;
  if (f == Format::Postfix) {
    std::string to = e.recipient.empty() ? "" : " to=<" + escape(e.recipient) + ">";
    return fmt::format("NOQUEUE: reject: {} from {}: {} {} {}; from=<{}>{} helo=<{}>{} session=S{}",
                       rcpt ? "RCPT" : "END-OF-MESSAGE", client(e.ip), e.code, e.enhanced, e.text,
                       escape(e.sender), to, escape(e.helo, 64), e.fields, e.session);
  }
  return fmt::format("S{} reject: {} from [{}]: {} {} {}; from=<{}>{}", e.session,
                     rcpt ? "RCPT" : "END-OF-DATA", e.ip, e.code, e.enhanced, e.text,
                     escape(e.sender), e.fields);
}

std::vector<Line> queued_lines(const Queued& e, Format f) {
  std::string message_id = "message-id=<" + escape(strip_brackets(e.message_id)) + ">";
  if (f == Format::Postfix) {
    // Postfix's smtpd puts sasl_username right after client=; the relay's fields follow.
    std::string sasl =
        e.sasl_username.empty() ? "" : ", sasl_username=" + escape(e.sasl_username, 64);
    return {
        {"smtpd", fmt::format("{}: client={}:{}{}, helo=<{}>, tls={}, requiretls={}, policy={}, "
                              "rule={}",
                              e.queue_id, client(e.ip), e.port, sasl, escape(e.helo, 64), e.tls,
                              e.requiretls ? "yes" : "no", e.policy, e.rule)},
        {"cleanup", e.queue_id + ": " + message_id},
        {"qmgr", fmt::format("{}: from=<{}>, size={}, nrcpt={} (queue active)", e.queue_id,
                             escape(e.sender), e.size, e.nrcpt)},
    };
  }
  return {
      {"smtpd", fmt::format("{}: queued client=[{}]:{} helo={} from=<{}> nrcpt={} size={} tls={} "
                            "requiretls={} policy={} rule={}",
                            e.queue_id, e.ip, e.port, escape(e.helo, 64), escape(e.sender),
                            e.nrcpt, e.size, e.tls, e.requiretls ? "yes" : "no", e.policy, e.rule) +
                    (e.sasl_username.empty() ? "" : " sasl_username=" + escape(e.sasl_username, 64))},
      {"cleanup", e.queue_id + ": " + message_id},
  };
}

std::string notification_line(const std::string& queue_id, std::string_view event,
                              const std::string& report_id, std::size_t recipients, Format f) {
  std::string_view word = event;
  if (f == Format::Postfix) {
    if (event == "failed") word = "non-delivery";
    if (event == "delayed") word = "delay";
    if (event == "delivered" || event == "relayed") word = "delivery status";
  }
  return fmt::format("{}: sender {} notification: {} ({} recipient(s))", queue_id, word,
                     report_id, recipients);
}

std::string removed_line(const std::string& queue_id) { return queue_id + ": removed"; }

}  // namespace secmx::log
