// audit_report.cpp - see audit_report.hpp.
#include "relay/audit/audit_report.hpp"

#include "queue/envelope_json.hpp"
#include "relay/audit/audit_scan.hpp"

namespace secmx::audit {

namespace {

using nlohmann::json;

void fill(Report::Entry& e, std::uint64_t seq, std::int64_t time_us, const RecordFields& r) {
  e.seq = seq;
  e.time_us = time_us;
  e.queue_id = r.queue_id;
  e.message_id = r.message_id;
  e.sender = r.sender;
  e.classification = r.classification;
}

json entry_json(const Report::Entry& e) {
  return json{{"seq", e.seq},
              {"time", queue::iso_time(e.time_us)},
              {"queue_id", e.queue_id},
              {"message_id", e.message_id},
              {"sender", e.sender},
              {"classification", e.classification}};
}

// Appends to a list while it has room, else counts what did not fit.
template <class T>
T* room(std::vector<T>& list, std::uint64_t& more, std::size_t limit) {
  if (list.size() >= limit) {
    ++more;
    return nullptr;
  }
  return &list.emplace_back();
}

}  // namespace

Result<Report, queue::Error> build_report(queue::Store& store, std::optional<std::int64_t> from_us,
                                          std::optional<std::int64_t> to_us, std::size_t limit) {
  Report rep;
  rep.from_us = from_us;
  rep.to_us = to_us;
  std::uint64_t start = 0;
  if (from_us) {
    auto at = first_seq_at(store, *from_us);
    if (!at) return fail(at.error());
    if (!*at) return rep;
    start = **at;
  }
  RecordFields r;
  auto walked = walk_links(store, start, [&](std::uint64_t seq, const std::optional<queue::audit::Link>& link,
                                             std::string_view) {
    if (!link) {
      ++rep.records;
      ++rep.unparsable;
      return true;
    }
    if (to_us && link->time_us >= *to_us) return false;
    ++rep.records;
    if (!extract_fields(link->payload, r)) {
      ++rep.unparsable;
      return true;
    }
    if (r.event == "outcome") {
      ++rep.outcomes;
      const RecordFields::Rcpt none;
      const auto& rc = r.recipients.empty() ? none : r.recipients.front();
      ++rep.counts[{r.classification, rc.policy, r.outcome, r.auth}];
      if (r.outcome == "delivered" && r.auth == "none" && (rc.policy == "SOS" || r.requiretls)) {
        if (auto* u = room(rep.unauthenticated, rep.unauthenticated_more, limit)) {
          fill(*u, seq, link->time_us, r);
          u->recipient = rc.address;
          u->policy = rc.policy;
          u->tls = rc.tls;
          u->auth = r.auth;
          u->requiretls = r.requiretls;
        }
      }
    } else if ((r.event == "accept" || r.event == "reject") && r.classification == "unknown") {
      bool any = false;
      for (const auto& m : r.markings) {
        if (m.error.empty()) continue;
        any = true;
        if (auto* u = room(rep.unreadable_markings, rep.unreadable_more, limit)) {
          fill(*u, seq, link->time_us, r);
          u->event = r.event;
          u->source = m.source;
          u->text = m.text;
          u->error = m.error;
        }
      }
      if (!any) {  // unknown without a marking's error: still listed, nothing hidden
        if (auto* u = room(rep.unreadable_markings, rep.unreadable_more, limit)) {
          fill(*u, seq, link->time_us, r);
          u->event = r.event;
          if (!r.markings.empty()) {
            u->source = r.markings.front().source;
            u->text = r.markings.front().text;
          }
        }
      }
    } else if (r.event == "operator" && r.action == "release" && r.held_by_policy) {
      if (auto* u = room(rep.hold_releases, rep.releases_more, limit)) {
        fill(*u, seq, link->time_us, r);
        u->operator_name = r.operator_name;
        for (const auto& rc : r.recipients) u->recipients.push_back(rc.address);
      }
    }
    return true;
  });
  if (!walked) return fail(walked.error());
  return rep;
}

json report_json(const Report& rep) {
  auto time = [](std::optional<std::int64_t> t) { return t ? json(queue::iso_time(*t)) : json(nullptr); };
  json counts = json::array();
  for (const auto& [k, n] : rep.counts) {
    counts.push_back({{"classification", std::get<0>(k)},
                      {"policy", std::get<1>(k)},
                      {"outcome", std::get<2>(k)},
                      {"auth", std::get<3>(k)},
                      {"count", n}});
  }
  json weak = json::array();
  for (const auto& u : rep.unauthenticated) {
    json j = entry_json(u);
    j["recipient"] = u.recipient;
    j["policy"] = u.policy;
    j["tls"] = u.tls;
    j["auth"] = u.auth;
    j["requiretls"] = u.requiretls;
    weak.push_back(std::move(j));
  }
  json unreadable = json::array();
  for (const auto& u : rep.unreadable_markings) {
    json j = entry_json(u);
    j["event"] = u.event;
    j["source"] = u.source;
    j["text"] = u.text;
    j["error"] = u.error;
    unreadable.push_back(std::move(j));
  }
  json releases = json::array();
  for (const auto& u : rep.hold_releases) {
    json j = entry_json(u);
    j["operator"] = u.operator_name;
    j["recipients"] = u.recipients;
    releases.push_back(std::move(j));
  }
  return json{{"from", time(rep.from_us)},
              {"to", time(rep.to_us)},
              {"records", rep.records},
              {"outcomes", rep.outcomes},
              {"unparsable", rep.unparsable},
              {"counts", std::move(counts)},
              {"unauthenticated", std::move(weak)},
              {"unreadable_markings", std::move(unreadable)},
              {"hold_releases", std::move(releases)},
              {"more",
               {{"unauthenticated", rep.unauthenticated_more},
                {"unreadable_markings", rep.unreadable_more},
                {"hold_releases", rep.releases_more}}}};
}

}  // namespace secmx::audit
