// metrics_test.cpp - metric updates and their Prometheus text rendering.
#include "relay/metrics/metrics.hpp"

#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <thread>

namespace secmx::metrics {
namespace {

// "name{labels} value" lines -> value by "name{labels}"; checks the HELP/TYPE pairing.
std::map<std::string, std::string> samples(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line, last_type;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      last_type = line;
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) continue;
    auto sp = line.rfind(' ');
    EXPECT_NE(sp, std::string::npos) << line;
    EXPECT_FALSE(last_type.empty()) << "sample before any TYPE: " << line;
    out[line.substr(0, sp)] = line.substr(sp + 1);
  }
  return out;
}

TEST(Metrics, CountersByLabel) {
  RelayMetrics m;
  m.received.inc(model::Policy::SOS);
  m.received.inc(model::Policy::SOS, 2);
  m.received.inc(model::Policy::BES);
  m.deliveries.inc(DeliveryTls::Verified, DeliveryAuth::Pkix, dns::Method::Srv);
  m.messages_received.inc();
  auto s = samples(m.render());
  EXPECT_EQ(s["secmx_recipients_received_total{policy=\"SOS\"}"], "3");
  EXPECT_EQ(s["secmx_recipients_received_total{policy=\"BES\"}"], "1");
  EXPECT_EQ(s["secmx_recipients_received_total{policy=\"HOLD\"}"], "0");
  EXPECT_EQ(s["secmx_deliveries_total{tls=\"verified\",auth=\"pkix\",method=\"srv\"}"], "1");
  EXPECT_EQ(s["secmx_deliveries_total{tls=\"none\",auth=\"none\",method=\"mx\"}"], "0");
  EXPECT_EQ(s["secmx_messages_received_total"], "1");
}

// Deliveries by how the receiver was authenticated: the AUTH of the log's tls= field as a
// label beside the protection, and only the pairs that can happen.
TEST(Metrics, DeliveriesByAuth) {
  RelayMetrics m;
  m.deliveries.inc(DeliveryTls::Verified, DeliveryAuth::Dane, dns::Method::Mx, 2);
  m.deliveries.inc(DeliveryTls::Verified, DeliveryAuth::MtaSts, dns::Method::Mx);
  m.deliveries.inc(DeliveryTls::Encrypt, DeliveryAuth::None, dns::Method::Srv);
  m.deliveries.inc(DeliveryTls::None, DeliveryAuth::None, dns::Method::Implicit);
  // Impossible pairs are counted where they belong, never lost.
  m.deliveries.inc(DeliveryTls::Encrypt, DeliveryAuth::Dane, dns::Method::Srv);
  m.deliveries.inc(DeliveryTls::Verified, DeliveryAuth::None, dns::Method::Route);
  auto s = samples(m.render());
  EXPECT_EQ(s["secmx_deliveries_total{tls=\"verified\",auth=\"dane\",method=\"mx\"}"], "2");
  EXPECT_EQ(s["secmx_deliveries_total{tls=\"verified\",auth=\"mta-sts\",method=\"mx\"}"], "1");
  EXPECT_EQ(s["secmx_deliveries_total{tls=\"encrypt\",auth=\"none\",method=\"srv\"}"], "2");
  EXPECT_EQ(s["secmx_deliveries_total{tls=\"none\",auth=\"none\",method=\"implicit\"}"], "1");
  EXPECT_EQ(s["secmx_deliveries_total{tls=\"verified\",auth=\"pkix\",method=\"route\"}"], "1");
  EXPECT_EQ(s.count("secmx_deliveries_total{tls=\"encrypt\",auth=\"dane\",method=\"srv\"}"), 0u);
  EXPECT_EQ(s.count("secmx_deliveries_total{tls=\"verified\",auth=\"none\",method=\"mx\"}"), 0u);
  std::size_t series = 0;
  for (const auto& [k, v] : s) series += k.rfind("secmx_deliveries_total{", 0) == 0;
  EXPECT_EQ(series, 5u * kMethods);  // none/none, encrypt/none, verified x 3 AUTH
  EXPECT_EQ(m.deliveries.value(DeliveryAuth::Dane), 2u);
  EXPECT_EQ(m.deliveries.value(DeliveryTls::Verified, dns::Method::Mx), 3u);
  EXPECT_EQ(to_string(DeliveryAuth::MtaSts), std::string("mta-sts"));
}

TEST(Metrics, AuthenticationFailuresByType) {
  RelayMetrics m;
  m.tls_auth_failures.inc(AuthFailure::Dane);
  m.tls_auth_failures.inc(AuthFailure::TlsaLookup, 3);
  auto s = samples(m.render());
  EXPECT_EQ(s["secmx_tls_auth_failures_total{type=\"dane\"}"], "1");
  EXPECT_EQ(s["secmx_tls_auth_failures_total{type=\"mta-sts\"}"], "0");
  EXPECT_EQ(s["secmx_tls_auth_failures_total{type=\"tlsa-lookup\"}"], "3");
  EXPECT_EQ(to_string(AuthFailure::TlsaLookup), std::string("tlsa-lookup"));
}

TEST(Metrics, TlsReportsByResult) {
  RelayMetrics m;
  m.tlsrpt_reports.inc(ReportResult::Sent, 2);
  m.tlsrpt_reports.inc(ReportResult::NoRecord);
  auto s = samples(m.render());
  EXPECT_EQ(s["secmx_tlsrpt_reports_total{result=\"sent\"}"], "2");
  EXPECT_EQ(s["secmx_tlsrpt_reports_total{result=\"failed\"}"], "0");
  EXPECT_EQ(s["secmx_tlsrpt_reports_total{result=\"no-record\"}"], "1");
}

TEST(Metrics, OutOfRangeLabelIsIgnored) {
  PolicyCounter c;
  c.inc(static_cast<model::Policy>(7));
  EXPECT_EQ(c.total(), 0u);
}

TEST(Metrics, GaugesGoUpAndDown) {
  RelayMetrics m;
  m.inbound_connections.inc();
  m.inbound_connections.inc();
  m.inbound_connections.dec();
  m.queue_messages.set(42);
  auto s = samples(m.render());
  EXPECT_EQ(s["secmx_inbound_connections"], "1");
  EXPECT_EQ(s["secmx_queue_messages"], "42");
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Histogram h{1, 10, 100};
  h.observe(0.5);
  h.observe(1);    // le="1" includes 1
  h.observe(5);
  h.observe(1000);
  auto s = h.snapshot();
  ASSERT_EQ(s.cumulative.size(), 4u);
  EXPECT_EQ(s.cumulative[0], 2u);
  EXPECT_EQ(s.cumulative[1], 3u);
  EXPECT_EQ(s.cumulative[2], 3u);
  EXPECT_EQ(s.cumulative[3], 4u);
  EXPECT_EQ(s.count, 4u);
  EXPECT_DOUBLE_EQ(s.sum, 1006.5);
}

TEST(Metrics, HistogramRendering) {
  RelayMetrics m;
  m.commit_batch_size.observe(3);
  m.commit_latency.observe(0.002);
  auto text = m.render();
  auto s = samples(text);
  EXPECT_EQ(s["secmx_commit_batch_size_bucket{le=\"2\"}"], "0");
  EXPECT_EQ(s["secmx_commit_batch_size_bucket{le=\"4\"}"], "1");
  EXPECT_EQ(s["secmx_commit_batch_size_bucket{le=\"+Inf\"}"], "1");
  EXPECT_EQ(s["secmx_commit_batch_size_count"], "1");
  EXPECT_EQ(s["secmx_commit_batch_size_sum"], "3");
  EXPECT_EQ(s["secmx_commit_latency_seconds_bucket{le=\"0.0025\"}"], "1");
  EXPECT_NE(text.find("# TYPE secmx_commit_latency_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE secmx_recipients_delivered_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE secmx_queue_oldest_message_age_seconds gauge\n"), std::string::npos);
}

TEST(Metrics, CommitObserver) {
  RelayMetrics m;
  auto observe = m.commit_observer();
  observe(7, std::chrono::microseconds(1500));
  EXPECT_EQ(m.commit_batch_size.snapshot().count, 1u);
  EXPECT_DOUBLE_EQ(m.commit_batch_size.snapshot().sum, 7.0);
  EXPECT_DOUBLE_EQ(m.commit_latency.snapshot().sum, 0.0015);
  EXPECT_EQ(m.commit_latency.snapshot().cumulative[1], 0u);  // le=0.001
  EXPECT_EQ(m.commit_latency.snapshot().cumulative[2], 1u);  // le=0.0025
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  RelayMetrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        m.delivered.inc(model::Policy::BES);
        m.delivery_latency.observe(2.0);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(m.delivered.value(model::Policy::BES), 40000u);
  auto s = m.delivery_latency.snapshot();
  EXPECT_EQ(s.count, 40000u);
  EXPECT_DOUBLE_EQ(s.sum, 80000.0);
}

}  // namespace
}  // namespace secmx::metrics
