// audit_scan.cpp - see audit_scan.hpp.
#include "relay/audit/audit_scan.hpp"

#include "relay/common/ascii.hpp"

namespace secmx::audit {

namespace {

// A single-pass reader of one record's JSON that keeps only the fields RecordFields names
// and skips everything else without allocating: a report reads a million records, and a
// general parser (even its SAX interface) spends most of its time building the strings
// and numbers nobody looks at. Strict JSON: anything malformed fails the record.
class FieldScanner {
 public:
  FieldScanner(std::string_view text, RecordFields& out)
      : p_(text.data()), end_(text.data() + text.size()), f_(out) {}

  bool record() {
    ws();
    if (!peek('{')) return false;
    if (!object([this](std::string_view key) { return top_member(key); })) return false;
    ws();
    return p_ == end_;
  }

 private:
  static constexpr int kMaxDepth = 64;

  void ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool peek(char c) {
    ws();
    return p_ < end_ && *p_ == c;
  }
  bool eat(char c) {
    if (!peek(c)) return false;
    ++p_;
    return true;
  }

  static void put_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool hex4(std::uint32_t& v) {
    if (end_ - p_ < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i, ++p_) {
      int d = hex_digit_value(*p_);
      if (d < 0) return false;
      v = v * 16 + static_cast<std::uint32_t>(d);
    }
    return true;
  }

  // A string at p_ (its opening quote). `raw`: its bytes when it has no escape (a view into
  // the text); with an escape, or when `out` is given, the decoded text goes to `out`.
  bool string(std::string_view* raw, std::string* out) {
    if (!eat('"')) return false;
    const char* start = p_;
    while (p_ < end_ && *p_ != '"' && *p_ != '\\') {
      if (static_cast<unsigned char>(*p_) < 0x20) return false;
      ++p_;
    }
    if (p_ == end_) return false;
    if (*p_ == '"') {
      if (raw) *raw = std::string_view(start, static_cast<std::size_t>(p_ - start));
      if (out) out->assign(start, p_);
      ++p_;
      return true;
    }
    std::string& dst = out ? *out : scratch_;
    dst.assign(start, p_);
    while (p_ < end_ && *p_ != '"') {
      char c = *p_++;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        dst += c;
        continue;
      }
      if (p_ == end_) return false;
      switch (*p_++) {
        case '"': dst += '"'; break;
        case '\\': dst += '\\'; break;
        case '/': dst += '/'; break;
        case 'b': dst += '\b'; break;
        case 'f': dst += '\f'; break;
        case 'n': dst += '\n'; break;
        case 'r': dst += '\r'; break;
        case 't': dst += '\t'; break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            std::uint32_t lo = 0;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
            p_ += 2;
            if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return false;
          }
          put_utf8(dst, cp);
          break;
        }
        default: return false;
      }
    }
    if (p_ == end_) return false;
    ++p_;
    if (raw) *raw = dst;
    return true;
  }

  bool literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }

  bool number() {
    const char* start = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    while (p_ < end_ && ((*p_ >= '0' && *p_ <= '9') || *p_ == '.' || *p_ == 'e' || *p_ == 'E' ||
                         *p_ == '+' || *p_ == '-')) {
      ++p_;
    }
    return p_ > start && (start[0] != '-' || p_ > start + 1);
  }

  // {"key": value, ...}: `member(key)` reads each value.
  template <class F>
  bool object(F member) {
    if (!eat('{') || ++depth_ > kMaxDepth) return false;
    if (eat('}')) {
      --depth_;
      return true;
    }
    for (;;) {
      std::string_view key;
      ws();
      if (!string(&key, nullptr)) return false;
      std::string key_copy;
      if (key.data() == scratch_.data()) key_copy = key, key = key_copy;  // an escaped key
      if (!eat(':')) return false;
      ws();
      if (!member(key)) return false;
      if (eat(',')) continue;
      if (!eat('}')) return false;
      --depth_;
      return true;
    }
  }

  // [value, ...]: `element()` reads each.
  template <class F>
  bool array(F element) {
    if (!eat('[') || ++depth_ > kMaxDepth) return false;
    if (eat(']')) {
      --depth_;
      return true;
    }
    for (;;) {
      ws();
      if (!element()) return false;
      if (eat(',')) continue;
      if (!eat(']')) return false;
      --depth_;
      return true;
    }
  }

  bool skip() {
    ws();
    if (p_ == end_) return false;
    switch (*p_) {
      case '"': return string(nullptr, nullptr);
      case '{': return object([this](std::string_view) { return skip(); });
      case '[': return array([this] { return skip(); });
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default: return number();
    }
  }

  // A string value into `out`; any other value is read past and leaves `out` empty.
  // A key given twice reads as its last value, as a JSON parser reads it: a later value
  // that is not a string (or not a boolean) leaves the field empty (false), not the earlier.
  bool text(std::string& out) {
    if (p_ < end_ && *p_ == '"') return string(nullptr, &out);
    out.clear();
    return skip();
  }

  bool flag(bool& out) {
    if (literal("true")) {
      out = true;
      return true;
    }
    out = false;
    if (literal("false")) return true;
    return skip();
  }

  bool rcpt_member(RecordFields::Rcpt& r, std::string_view key) {
    if (key == "address") return text(r.address);
    if (key == "policy") return text(r.policy);
    if (key == "tls") return text(r.tls);
    return skip();
  }

  bool marking_member(RecordFields::Marking& m, std::string_view key) {
    if (key == "source") return text(m.source);
    if (key == "text") return text(m.text);
    if (key == "level") return text(m.level);
    if (key == "error") return text(m.error);
    return skip();
  }

  bool top_member(std::string_view key) {
    if (key == "event") return text(f_.event);
    if (key == "queue_id") return text(f_.queue_id);
    if (key == "message_id") return text(f_.message_id);
    if (key == "sender") return text(f_.sender);
    if (key == "classification") return text(f_.classification);
    if (key == "outcome") return text(f_.outcome);
    if (key == "auth") return text(f_.auth);
    if (key == "by") return text(f_.by);
    if (key == "action") return text(f_.action);
    if (key == "operator") return text(f_.operator_name);
    if (key == "reason") return text(f_.reason);
    if (key == "requiretls") return flag(f_.requiretls);
    if (key == "held_by_policy") return flag(f_.held_by_policy);
    if (key == "recipient" && peek('{')) {
      auto& r = f_.recipients.emplace_back();
      return object([this, &r](std::string_view k) { return rcpt_member(r, k); });
    }
    if (key == "recipients" && peek('[')) {
      return array([this] {
        if (peek('"')) return string(nullptr, &f_.recipients.emplace_back().address);  // a DSN's
        if (!peek('{')) return skip();
        auto& r = f_.recipients.emplace_back();
        return object([this, &r](std::string_view k) { return rcpt_member(r, k); });
      });
    }
    if (key == "markings" && peek('[')) {
      return array([this] {
        if (!peek('{')) return skip();
        auto& m = f_.markings.emplace_back();
        return object([this, &m](std::string_view k) { return marking_member(m, k); });
      });
    }
    return skip();
  }

  const char* p_;
  const char* end_;
  RecordFields& f_;
  int depth_ = 0;
  std::string scratch_;  // an escaped string nobody keeps
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
  return FieldScanner(payload, out).record();
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
