// envelope_json.cpp - see envelope_json.hpp.
#include "queue/envelope_json.hpp"

#include <cstdio>
#include <ctime>

namespace secmx::queue {

using nlohmann::json;

namespace {

json time_or_null(std::int64_t unix_us) {
  return unix_us > 0 ? json(iso_time(unix_us)) : json(nullptr);
}

const char* body_type_name(model::BodyType t) {
  switch (t) {
    case model::BodyType::BinaryMime: return "BINARYMIME";
    case model::BodyType::EightBitMime: return "8BITMIME";
    case model::BodyType::SevenBit: break;
  }
  return "7BIT";
}

const char* ret_name(model::Ret r) {
  switch (r) {
    case model::Ret::Full: return "FULL";
    case model::Ret::Hdrs: return "HDRS";
    case model::Ret::Unset: break;
  }
  return "";
}

}  // namespace

std::string iso_time(std::int64_t unix_us) {
  std::time_t secs = static_cast<std::time_t>(unix_us / 1000000);
  long micros = static_cast<long>(unix_us % 1000000);
  if (micros < 0) {
    micros += 1000000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%06ldZ", micros);
  return buf;
}

void write_attempt(JsonText& out, const model::Attempt& a) {
  out.begin_object()
      .field("address", a.address)
      .field("cert_sha256", a.cert_sha256)
      .field("dnssec", a.dnssec)
      .field("host", a.host)
      .field("method", a.method)
      .field("reply", a.reply)
      .field("status", a.status)
      .field("time", iso_time(a.time_us))
      .field("tls", a.tls)
      .end_object();
}

json attempt_json(const model::Attempt& a) {
  std::string text;
  JsonText out(text);
  write_attempt(out, a);
  return json::parse(text);
}

json recipient_json(const model::Recipient& r) {
  json history = json::array();
  for (const auto& a : r.history) history.push_back(attempt_json(a));
  return json{{"address", r.address},
              {"orcpt", r.orcpt},
              {"notify", model::notify_names(r.notify)},
              {"state", model::to_string(r.state)},
              {"policy", model::to_string(r.policy)},
              {"tls", model::to_string(r.tls)},
              {"rule", r.policy_reason},
              {"attempts", r.attempts},
              {"last_status", r.last_status},
              {"last_reply", r.last_reply},
              {"remote_mta", r.remote_mta},
              {"last_tls", r.last_tls},
              {"last_cert_sha256", r.last_cert_sha256},
              {"last_dnssec", r.last_dnssec},
              {"last_attempt", time_or_null(r.last_attempt_us)},
              {"history", std::move(history)},
              {"history_dropped", r.history_dropped}};
}

json envelope_json(const model::Envelope& env) {
  json rcpts = json::array();
  for (const auto& r : env.recipients) rcpts.push_back(recipient_json(r));
  return json{{"id", env.id.to_string()},
              {"arrival", iso_time(env.arrival_us)},
              {"arrival_us", env.arrival_us},
              {"sender", env.sender},
              {"size", env.body_size},
              {"body_type", body_type_name(env.body_type)},
              {"smtputf8", env.smtputf8},
              {"requiretls", env.requiretls},
              {"ret", ret_name(env.ret)},
              {"envid", env.envid},
              {"message_id", env.message_id},
              {"classification", env.classification},
              {"client", json{{"address", env.client_address},
                              {"helo", env.client_helo},
                              {"auth_user", env.auth_user},
                              {"tls_protocol", env.tls_protocol},
                              {"tls_cipher", env.tls_cipher}}},
              {"held", env.held},
              {"attempts", env.attempts},
              {"next_attempt_us", env.next_attempt_us},
              {"recipients", std::move(rcpts)}};
}

}  // namespace secmx::queue
