// queue_test_util.hpp - shared helpers for the queue unit tests: a temp directory that
// removes itself, fully populated envelopes, and a field-by-field comparison.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "queue/store.hpp"
#include "relay/model/envelope.hpp"
#include "tests/unit/temp_dir.hpp"

namespace secmx::queue::test {

using secmx::test::TempDir;

inline Recipient make_recipient(int i) {
  Recipient r;
  r.address = "rcpt" + std::to_string(i) + "@example.org";
  r.orcpt = "rfc822;Rcpt" + std::to_string(i) + "@example.org";
  r.notify = kNotifyFailure | kNotifyDelay;
  r.state = static_cast<RcptState>(i % 4);
  r.policy = static_cast<model::Policy>(i % 3);
  r.tls = static_cast<model::TlsLevel>(i % 3);
  r.policy_reason = "rule=" + std::to_string(i) + "(classification=RESTRICTED)";
  r.attempts = static_cast<std::uint32_t>(i * 3);
  r.last_status = "4.4.1";
  r.last_reply = "451 4.4.1 try again later, said the host number " + std::to_string(i);
  r.remote_mta = "mx" + std::to_string(i) + ".example.org";
  r.last_tls = "TLSv1.3/TLS_AES_256_GCM_SHA384/dane";
  r.last_attempt_us = 1'700'000'000'000'000 + i;
  r.last_cert_sha256 = std::string(63, 'a') + std::to_string(i % 10);
  r.last_dnssec = i % 2 ? "secure" : "insecure";
  // i % 3 attempts kept, i dropped before them.
  for (int k = 0; k < i % 3; ++k) {
    model::Attempt a;
    a.time_us = 1'700'000'000'000'000 + i * 1000 + k;
    a.host = "mx" + std::to_string(k) + ".example.org";
    a.address = k % 2 ? "[2001:db8::7]:25" : "192.0.2.7:25";
    a.method = k % 2 ? "srv" : "mx";
    a.tls = k % 2 ? "none" : "TLSv1.3/TLS_AES_256_GCM_SHA384/dane";
    a.cert_sha256 = k % 2 ? "" : std::string(64, 'b');
    a.dnssec = "secure";
    a.status = "4.4.1";
    a.reply = "451 4.4.1 attempt " + std::to_string(k);
    r.history.push_back(std::move(a));
  }
  r.history_dropped = static_cast<std::uint32_t>(i);
  return r;
}

inline Envelope make_envelope(QueueId id, int recipients = 3) {
  Envelope e;
  e.id = id;
  e.arrival_us = 1'700'000'000'000'000 + static_cast<std::int64_t>(id.value % 1000);
  e.sender = "sender@agency.example";
  e.body_type = BodyType::EightBitMime;
  e.smtputf8 = true;
  e.requiretls = true;
  e.ret = Ret::Hdrs;
  e.envid = "envid-" + id.to_string();
  e.client_address = "192.0.2.17";
  e.client_helo = "exchange.agency.example";
  e.auth_user = "app-user";
  e.tls_protocol = "TLSv1.3";
  e.tls_cipher = "TLS_AES_256_GCM_SHA384";
  e.message_id = "msg-" + id.to_string() + "@agency.example";
  e.classification = "PROTECTED";
  e.held = false;
  e.delay_notified = true;
  e.attempts = 2;
  e.next_attempt_us = 0;
  e.body_size = 1234;
  for (int i = 0; i < recipients; ++i) e.recipients.push_back(make_recipient(i));
  return e;
}

inline NewMessage make_message(QueueId id, std::string body, int recipients = 2) {
  NewMessage m{make_envelope(id, recipients), std::move(body), {}};
  m.envelope.body_size = m.body.size();
  return m;
}

// Body text that differs per message, so that a mixed-up body would be noticed.
inline std::string make_body(QueueId id, std::size_t size) {
  std::string s = "Subject: " + id.to_string() + "\r\n\r\n";
  while (s.size() < size) s += static_cast<char>('a' + (s.size() * 7 + id.value) % 26);
  s.resize(size);
  return s;
}

inline void expect_same(const Recipient& a, const Recipient& b) {
  EXPECT_EQ(a.address, b.address);
  EXPECT_EQ(a.orcpt, b.orcpt);
  EXPECT_EQ(a.notify, b.notify);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.policy, b.policy);
  EXPECT_EQ(a.tls, b.tls);
  EXPECT_EQ(a.policy_reason, b.policy_reason);
  EXPECT_EQ(a.attempts, b.attempts);
  EXPECT_EQ(a.last_status, b.last_status);
  EXPECT_EQ(a.last_reply, b.last_reply);
  EXPECT_EQ(a.remote_mta, b.remote_mta);
  EXPECT_EQ(a.last_tls, b.last_tls);
  EXPECT_EQ(a.last_attempt_us, b.last_attempt_us);
  EXPECT_EQ(a.last_cert_sha256, b.last_cert_sha256);
  EXPECT_EQ(a.last_dnssec, b.last_dnssec);
  EXPECT_EQ(a.history_dropped, b.history_dropped);
  ASSERT_EQ(a.history.size(), b.history.size());
  for (std::size_t k = 0; k < a.history.size(); ++k) {
    const model::Attempt& x = a.history[k];
    const model::Attempt& y = b.history[k];
    EXPECT_EQ(x.time_us, y.time_us);
    EXPECT_EQ(x.host, y.host);
    EXPECT_EQ(x.address, y.address);
    EXPECT_EQ(x.method, y.method);
    EXPECT_EQ(x.tls, y.tls);
    EXPECT_EQ(x.cert_sha256, y.cert_sha256);
    EXPECT_EQ(x.dnssec, y.dnssec);
    EXPECT_EQ(x.status, y.status);
    EXPECT_EQ(x.reply, y.reply);
  }
}

inline void expect_same(const Envelope& a, const Envelope& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.arrival_us, b.arrival_us);
  EXPECT_EQ(a.sender, b.sender);
  EXPECT_EQ(a.body_type, b.body_type);
  EXPECT_EQ(a.smtputf8, b.smtputf8);
  EXPECT_EQ(a.requiretls, b.requiretls);
  EXPECT_EQ(a.ret, b.ret);
  EXPECT_EQ(a.envid, b.envid);
  EXPECT_EQ(a.client_address, b.client_address);
  EXPECT_EQ(a.client_helo, b.client_helo);
  EXPECT_EQ(a.auth_user, b.auth_user);
  EXPECT_EQ(a.tls_protocol, b.tls_protocol);
  EXPECT_EQ(a.tls_cipher, b.tls_cipher);
  EXPECT_EQ(a.message_id, b.message_id);
  EXPECT_EQ(a.classification, b.classification);
  EXPECT_EQ(a.held, b.held);
  EXPECT_EQ(a.delay_notified, b.delay_notified);
  EXPECT_EQ(a.tls_report, b.tls_report);
  EXPECT_EQ(a.attempts, b.attempts);
  EXPECT_EQ(a.next_attempt_us, b.next_attempt_us);
  EXPECT_EQ(a.body_size, b.body_size);
  ASSERT_EQ(a.recipients.size(), b.recipients.size());
  for (std::size_t i = 0; i < a.recipients.size(); ++i)
    expect_same(a.recipients[i], b.recipients[i]);
}

}  // namespace secmx::queue::test
