// audit_scan.cpp - see audit_scan.hpp.
#include "relay/audit/audit_scan.hpp"

#include <array>

#include <nlohmann/json.hpp>

namespace secmx::audit {

namespace {

using nlohmann::json;

// A SAX handler that keeps only the fields RecordFields names: a record is parsed without
// allocating a tree, which is what makes a report over a million records fast.
class FieldsSax {
 public:
  explicit FieldsSax(RecordFields& out) : f_(out) {}

  bool null() { return true; }
  bool boolean(bool v) {
    if (depth_ == 1) {
      if (key_ == "requiretls") f_.requiretls = v;
      else if (key_ == "held_by_policy") f_.held_by_policy = v;
    }
    return true;
  }
  bool number_integer(json::number_integer_t) { return true; }
  bool number_unsigned(json::number_unsigned_t) { return true; }
  bool number_float(json::number_float_t, const json::string_t&) { return true; }
  bool binary(json::binary_t&) { return true; }
  bool string(json::string_t& v) {
    if (depth_ == 1) {
      top_string(v);
    } else if (depth_ == 2 && top_ == "recipient") {
      if (f_.recipients.empty()) f_.recipients.emplace_back();
      rcpt_field(f_.recipients.back(), v);
    } else if (depth_ == 2 && top_ == "recipients" && is_array_[2]) {
      f_.recipients.push_back(RecordFields::Rcpt{std::move(v), {}, {}});  // a DSN's list
    } else if (depth_ == 3 && top_ == "recipients" && !f_.recipients.empty()) {
      rcpt_field(f_.recipients.back(), v);
    } else if (depth_ == 3 && top_ == "markings" && !f_.markings.empty()) {
      auto& m = f_.markings.back();
      if (key_ == "source") m.source = std::move(v);
      else if (key_ == "text") m.text = std::move(v);
      else if (key_ == "level") m.level = std::move(v);
      else if (key_ == "error") m.error = std::move(v);
    }
    return true;
  }
  bool start_object(std::size_t) { return open(false); }
  bool start_array(std::size_t) { return open(true); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(json::string_t& k) {
    key_.swap(k);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }

 private:
  bool open(bool array) {
    if (depth_ == 0 && array) return false;  // a record is an object
    if (++depth_ >= static_cast<int>(is_array_.size())) return false;
    is_array_[depth_] = array;
    if (depth_ == 2) {
      top_ = key_;
      if (top_ == "recipient" && !array) f_.recipients.emplace_back();
    }
    if (depth_ == 3 && !array && is_array_[2]) {
      if (top_ == "recipients") f_.recipients.emplace_back();
      else if (top_ == "markings") f_.markings.emplace_back();
    }
    return true;
  }
  bool close() {
    --depth_;
    if (depth_ == 1) top_.clear();
    return true;
  }
  void top_string(json::string_t& v) {
    if (key_ == "event") f_.event = std::move(v);
    else if (key_ == "queue_id") f_.queue_id = std::move(v);
    else if (key_ == "message_id") f_.message_id = std::move(v);
    else if (key_ == "sender") f_.sender = std::move(v);
    else if (key_ == "classification") f_.classification = std::move(v);
    else if (key_ == "outcome") f_.outcome = std::move(v);
    else if (key_ == "auth") f_.auth = std::move(v);
    else if (key_ == "by") f_.by = std::move(v);
    else if (key_ == "action") f_.action = std::move(v);
    else if (key_ == "operator") f_.operator_name = std::move(v);
    else if (key_ == "reason") f_.reason = std::move(v);
  }
  void rcpt_field(RecordFields::Rcpt& r, json::string_t& v) {
    if (key_ == "address") r.address = std::move(v);
    else if (key_ == "policy") r.policy = std::move(v);
    else if (key_ == "tls") r.tls = std::move(v);
  }

  RecordFields& f_;
  int depth_ = 0;
  std::array<bool, 64> is_array_{};
  std::string key_;  // the last key read (values follow their key directly)
  std::string top_;  // the top-level key of the container being read (depth >= 2)
};

Result<std::optional<queue::AuditEntry>, queue::Error> link_at_or_after(queue::Store& store,
                                                                        std::uint64_t seq) {
  auto one = store.audit_links(seq, 1);
  if (!one) return fail(one.error());
  if (one->empty()) return std::optional<queue::AuditEntry>();
  return std::optional<queue::AuditEntry>(std::move(one->front()));
}

// An undecodable link sorts as time 0: a search treats it as old, and verify reports it.
std::int64_t time_of(const queue::AuditEntry& e) {
  auto link = queue::audit::decode_link(e.stored);
  return link.ok() ? link->time_us : 0;
}

}  // namespace

bool extract_fields(std::string_view payload, RecordFields& out) {
  out.event.clear();
  out.queue_id.clear();
  out.message_id.clear();
  out.sender.clear();
  out.classification.clear();
  out.outcome.clear();
  out.auth.clear();
  out.by.clear();
  out.action.clear();
  out.operator_name.clear();
  out.reason.clear();
  out.requiretls = false;
  out.held_by_policy = false;
  out.recipients.clear();
  out.markings.clear();
  FieldsSax sax(out);
  return json::sax_parse(payload.begin(), payload.end(), &sax, json::input_format_t::json, true);
}

Result<std::optional<SeqRange>, queue::Error> stored_range(queue::Store& store) {
  auto first = link_at_or_after(store, 0);
  if (!first) return fail(first.error());
  if (!*first) return std::optional<SeqRange>();
  // The last: double a step past the first until nothing is there, then halve back.
  std::uint64_t last = (*first)->seq, step = 1;
  for (;;) {
    auto probe = link_at_or_after(store, last + step);
    if (!probe) return fail(probe.error());
    if (!*probe) break;
    last = (*probe)->seq;
    step *= 2;
  }
  for (; step > 0; step /= 2) {
    auto probe = link_at_or_after(store, last + step);
    if (!probe) return fail(probe.error());
    if (*probe) last = (*probe)->seq;
  }
  return std::optional<SeqRange>(SeqRange{(*first)->seq, last});
}

Result<std::optional<std::uint64_t>, queue::Error> first_seq_at(queue::Store& store,
                                                               std::int64_t time_us) {
  auto range = stored_range(store);
  if (!range) return fail(range.error());
  if (!*range) return std::optional<std::uint64_t>();
  // Invariant: every link below lo is older than time_us; hi is a candidate or past the end.
  std::uint64_t lo = (*range)->first, hi = (*range)->last + 1;
  while (lo < hi) {
    std::uint64_t mid = lo + (hi - lo) / 2;
    auto e = link_at_or_after(store, mid);
    if (!e) return fail(e.error());
    if (!*e) {
      hi = mid;
    } else if (time_of(**e) >= time_us) {
      hi = mid;
    } else {
      lo = (*e)->seq + 1;
    }
  }
  if (lo > (*range)->last) return std::optional<std::uint64_t>();
  auto at = link_at_or_after(store, lo);
  if (!at) return fail(at.error());
  if (!*at) return std::optional<std::uint64_t>();
  return std::optional<std::uint64_t>((*at)->seq);
}

Status<queue::Error> walk_links(queue::Store& store, std::uint64_t from, const LinkVisitor& visit,
                                std::size_t page) {
  std::uint64_t next = from;
  for (;;) {
    auto links = store.audit_links(next, page);
    if (!links) return fail(links.error());
    for (const auto& e : *links) {
      auto link = queue::audit::decode_link(e.stored);
      std::optional<queue::audit::Link> decoded;
      if (link.ok()) decoded = std::move(link.value());
      if (!visit(e.seq, decoded, e.stored)) return Ok{};
      next = e.seq + 1;
    }
    if (links->size() < page) return Ok{};
  }
}

}  // namespace secmx::audit
