// resolver.cpp - c-ares on a libuv loop: socket polls, retransmit timer, cache, dispatch.
//
// Data flow: lookup -> cache hit? -> query already in flight? -> ares_query() (with
// [dns] dnssec: build_query() with the DO and AD bits, then ares_send()). c-ares
// reports its sockets through on_sock_state (a uv_poll_t each) and wants ares_process_fd()
// when one is ready or when ares_timeout() expires (one uv_timer_t). Its completion
// callback (on_reply) turns the raw reply into a typed Answer (dns_answer.hpp), marks it
// secure from the reply's AD bit when DNSSEC was asked for, caches it (the flag with it),
// and queues the waiters' callbacks; a uv_idle_t runs that queue. User code therefore
// never runs inside c-ares (no re-entrancy into ares_process_fd or ares_query) and may
// destroy the resolver.
#include "relay/dns/resolver.hpp"

#include <ares.h>
#include <arpa/nameser.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <variant>

#include "relay/common/log.hpp"
#include "relay/dns/dns_answer.hpp"
#include "relay/dns/dns_cache.hpp"
#include "relay/dns/dns_query.hpp"

namespace secmx::dns {
namespace {

using AnyAnswer = std::variant<SrvAnswer, MxAnswer, AddressAnswer, TlsaAnswer, TxtAnswer>;
using Waiter = std::function<void(const AnyAnswer&)>;

constexpr std::uint16_t kTypeA = ns_t_a;
constexpr std::uint16_t kTypeMx = ns_t_mx;
constexpr std::uint16_t kTypeAaaa = ns_t_aaaa;
constexpr std::uint16_t kTypeSrv = ns_t_srv;
constexpr std::uint16_t kTypeTlsa = ns_t_tlsa;
constexpr std::uint16_t kTypeTxt = ns_t_txt;
constexpr std::uint16_t kEdnsSize = 1232;  // the DNS flag day 2020 size: no fragmentation

const char* type_name(std::uint16_t type) {
  switch (type) {
    case kTypeA: return "A";
    case kTypeMx: return "MX";
    case kTypeAaaa: return "AAAA";
    case kTypeSrv: return "SRV";
    case kTypeTlsa: return "TLSA";
    case kTypeTxt: return "TXT";
  }
  return "?";
}

// Per-socket watcher; the uv_poll_t comes first so the handle pointer is the struct.
struct PollHandle {
  uv_poll_t poll;
  ares_socket_t fd;
};

struct QueryCtx {
  AresResolver::Impl* impl;
  std::string key;
  std::string name;
  std::uint16_t type;
  bool dnssec;  // sent with the DO and AD bits by ares_send(): map the RCODE, read AD
};

}  // namespace

struct AresResolver::Impl {
  Impl(uv_loop_t* l, ResolverOptions o)
      : loop(l), opts(std::move(o)), cache(opts.cache_size), log(secmx::log::logger("dns")) {}

  uv_loop_t* loop;
  ResolverOptions opts;
  ares_channel channel = nullptr;
  uv_timer_t* timer = nullptr;
  uv_idle_t* idle = nullptr;
  std::unordered_map<ares_socket_t, PollHandle*> polls;
  TtlCache<AnyAnswer> cache;
  std::unordered_map<std::string, std::vector<Waiter>> inflight;
  std::deque<std::function<void()>> ready;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  bool destroying = false;
  ResolverStats stats;
  std::shared_ptr<spdlog::logger> log;

  void schedule(std::function<void()> fn);
  void rearm_timer();
  void start(std::uint16_t type, std::string name, Waiter waiter);
  void complete(const QueryCtx& ctx, AnyAnswer answer);
};

namespace {

void close_and_delete(uv_handle_t* h) {
  uv_close(h, [](uv_handle_t* handle) {
    switch (handle->type) {
      case UV_POLL: delete reinterpret_cast<PollHandle*>(handle); break;
      case UV_TIMER: delete reinterpret_cast<uv_timer_t*>(handle); break;
      case UV_IDLE: delete reinterpret_cast<uv_idle_t*>(handle); break;
      default: break;
    }
  });
}

void on_idle(uv_idle_t* h) {
  auto* impl = static_cast<AresResolver::Impl*>(h->data);
  std::deque<std::function<void()>> batch;
  batch.swap(impl->ready);
  uv_idle_stop(h);  // schedule() starts it again if a callback queues more
  std::shared_ptr<bool> alive = impl->alive;
  while (!batch.empty()) {
    std::function<void()> fn = std::move(batch.front());
    batch.pop_front();
    try {
      fn();
    } catch (const std::exception& e) {
      if (*alive) impl->log->error("dns callback threw: {}", e.what());
    } catch (...) {
      if (*alive) impl->log->error("dns callback threw a non-exception");
    }
    if (!*alive) return;  // that callback destroyed the resolver: drop the rest
  }
}

void on_timer(uv_timer_t* h) {
  auto* impl = static_cast<AresResolver::Impl*>(h->data);
  ares_process_fd(impl->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  impl->rearm_timer();
}

void on_poll(uv_poll_t* h, int status, int events) {
  auto* impl = static_cast<AresResolver::Impl*>(h->data);
  ares_socket_t fd = reinterpret_cast<PollHandle*>(h)->fd;
  ares_socket_t rfd = ARES_SOCKET_BAD;
  ares_socket_t wfd = ARES_SOCKET_BAD;
  if (status < 0) {
    rfd = wfd = fd;  // let c-ares meet the error on its own read/write and drop the socket
  } else {
    if (events & UV_READABLE) rfd = fd;
    if (events & UV_WRITABLE) wfd = fd;
  }
  // May close this very handle through on_sock_state; h is not used afterwards.
  ares_process_fd(impl->channel, rfd, wfd);
  impl->rearm_timer();
}

void on_sock_state(void* data, ares_socket_t fd, int readable, int writable) {
  auto* impl = static_cast<AresResolver::Impl*>(data);
  auto it = impl->polls.find(fd);
  if (!readable && !writable) {
    // c-ares closes the socket right after this: stop watching it first.
    if (it != impl->polls.end()) {
      close_and_delete(reinterpret_cast<uv_handle_t*>(it->second));
      impl->polls.erase(it);
    }
    return;
  }
  if (impl->destroying) return;
  PollHandle* p = nullptr;
  if (it == impl->polls.end()) {
    p = new PollHandle{};
    p->fd = fd;
    if (int rc = uv_poll_init_socket(impl->loop, &p->poll, fd); rc != 0) {
      // The query on this socket will end by timeout instead.
      impl->log->error("dns uv_poll_init_socket fd={} failed: {}", fd, uv_strerror(rc));
      delete p;
      return;
    }
    p->poll.data = impl;
    // A pending query keeps the loop alive through the timer; an idle c-ares socket
    // must not.
    uv_unref(reinterpret_cast<uv_handle_t*>(&p->poll));
    impl->polls.emplace(fd, p);
  } else {
    p = it->second;
  }
  int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
  if (int rc = uv_poll_start(&p->poll, events, on_poll); rc != 0) {
    impl->log->error("dns uv_poll_start fd={} failed: {}", fd, uv_strerror(rc));
  }
}

AnyAnswer build_answer(const ResolverOptions& o, std::uint16_t type, int status,
                       const unsigned char* abuf, int alen) {
  TtlLimits limits{o.min_ttl, o.max_ttl, o.negative_ttl, o.max_negative_ttl};
  switch (type) {
    case kTypeSrv: return srv_answer(limits, status, abuf, alen);
    case kTypeMx: return mx_answer(limits, status, abuf, alen);
    case kTypeA: return address_answer(limits, AF_INET, status, abuf, alen);
    case kTypeTlsa: return tlsa_answer(limits, status, abuf, alen);
    case kTypeTxt: return txt_answer(limits, status, abuf, alen);
    default: return address_answer(limits, AF_INET6, status, abuf, alen);
  }
}

void on_reply(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  std::unique_ptr<QueryCtx> ctx(static_cast<QueryCtx*>(arg));
  if (status == ARES_EDESTRUCTION || ctx->impl->destroying) return;  // dropped, by contract
  AresResolver::Impl& impl = *ctx->impl;
  if (ctx->dnssec) status = reply_status(status, abuf, alen);
  AnyAnswer answer = build_answer(impl.opts, ctx->type, status, abuf, alen);
  if (ctx->dnssec) std::visit([&](auto& a) { mark_secure(a, abuf, alen); }, answer);
  impl.complete(*ctx, std::move(answer));
}

LookupStatus status_of(const AnyAnswer& a) {
  return std::visit([](const auto& x) { return x.status; }, a);
}

}  // namespace

void AresResolver::Impl::schedule(std::function<void()> fn) {
  ready.push_back(std::move(fn));
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(idle))) uv_idle_start(idle, on_idle);
}

void AresResolver::Impl::rearm_timer() {
  if (destroying) return;
  timeval tv{};
  timeval* next = ares_timeout(channel, nullptr, &tv);
  if (!next) {
    uv_timer_stop(timer);
    return;
  }
  std::uint64_t ms = static_cast<std::uint64_t>(next->tv_sec) * 1000 +
                     static_cast<std::uint64_t>(next->tv_usec + 999) / 1000;
  uv_timer_start(timer, on_timer, std::max<std::uint64_t>(ms, 1), 0);
}

void AresResolver::Impl::start(std::uint16_t type, std::string raw_name, Waiter waiter) {
  std::string name = normalize_name(raw_name);
  std::string key = std::string(type_name(type)) + " " + name;
  if (name.empty() || name.size() > 253) {
    AnyAnswer bad = build_answer(opts, type, ARES_EBADNAME, nullptr, 0);
    schedule([w = std::move(waiter), a = std::move(bad)] { w(a); });
    return;
  }
  if (const AnyAnswer* hit = cache.find(key, uv_now(loop))) {
    ++stats.cache_hits;
    AnyAnswer copy = *hit;
    std::visit([](auto& a) { a.from_cache = true; }, copy);
    log->trace("dns cache hit type={} name={}", type_name(type), log::escape(name));
    schedule([w = std::move(waiter), a = std::move(copy)] { w(a); });
    return;
  }
  if (auto it = inflight.find(key); it != inflight.end()) {
    ++stats.coalesced;
    it->second.push_back(std::move(waiter));
    return;
  }
  inflight[key].push_back(std::move(waiter));
  ++stats.queries;
  log->debug("dns query type={} name={}", type_name(type), log::escape(name));
  auto* ctx = new QueryCtx{this, key, name, type, opts.dnssec};
  // May complete at once (e.g. a name c-ares cannot encode); on_reply only queues.
  if (!opts.dnssec) {
    ares_query(channel, name.c_str(), ns_c_in, type, on_reply, ctx);
  } else if (auto q = build_query(name, type, random_query_id(), {kEdnsSize, true}); q) {
    ares_send(channel, q->data(), static_cast<int>(q->size()), on_reply, ctx);
  } else {
    on_reply(ctx, q.error(), 0, nullptr, 0);
  }
  rearm_timer();
}

void AresResolver::Impl::complete(const QueryCtx& ctx, AnyAnswer answer) {
  LookupStatus st = status_of(answer);
  if (st == LookupStatus::Temporary) {
    ++stats.temporary;
    log->info("dns lookup failed temporarily type={} name={} error={}", type_name(ctx.type),
              log::escape(ctx.name),
              std::visit([](const auto& a) { return a.error; }, answer));
  } else {
    std::uint32_t ttl = std::visit([](const auto& a) { return a.ttl; }, answer);
    cache.put(ctx.key, answer, uv_now(loop) + std::uint64_t{ttl} * 1000);
    bool secure = std::visit([](const auto& a) { return a.secure; }, answer);
    log->debug("dns answer type={} name={} status={} ttl={}{}", type_name(ctx.type),
               log::escape(ctx.name), to_string(st), ttl,
               ctx.dnssec ? (secure ? " secure=yes" : " secure=no") : "");
  }
  auto node = inflight.extract(ctx.key);
  if (node.empty()) return;
  for (Waiter& w : node.mapped()) {
    schedule([w = std::move(w), answer] { w(answer); });
  }
}

ResolverOptions ResolverOptions::from_config(const config::Config& cfg) {
  ResolverOptions o;
  o.servers = cfg.dns.servers;
  o.dnssec = cfg.dns.dnssec;
  return o;
}

Result<std::unique_ptr<AresResolver>, std::string> AresResolver::create(
    uv_loop_t* loop, ResolverOptions options) {
  static std::once_flag once;
  static int library_rc = ARES_SUCCESS;
  std::call_once(once, [] { library_rc = ares_library_init(ARES_LIB_INIT_ALL); });
  if (library_rc != ARES_SUCCESS) {
    return fail(std::string("c-ares library init: ") + ares_strerror(library_rc));
  }
  if (options.tries < 1) options.tries = 1;
  auto impl = std::make_unique<Impl>(loop, std::move(options));

  ares_options ao{};
  ao.sock_state_cb = on_sock_state;
  ao.sock_state_cb_data = impl.get();
  ao.timeout = static_cast<int>(std::max<std::int64_t>(impl->opts.timeout.count(), 1));
  ao.tries = impl->opts.tries;
  ao.flags = ARES_FLAG_EDNS;
  ao.ednspsz = kEdnsSize;
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS |
             ARES_OPT_EDNSPSZ;
  if (int rc = ares_init_options(&impl->channel, &ao, mask); rc != ARES_SUCCESS) {
    impl->channel = nullptr;
    return fail(std::string("c-ares init: ") + ares_strerror(rc));
  }
  if (!impl->opts.servers.empty()) {
    std::string csv;
    for (const config::Endpoint& ep : impl->opts.servers) {
      if (!csv.empty()) csv += ',';
      csv += ep.to_string();
    }
    if (int rc = ares_set_servers_ports_csv(impl->channel, csv.c_str()); rc != ARES_SUCCESS) {
      ares_destroy(impl->channel);
      impl->channel = nullptr;
      return fail("c-ares servers '" + csv + "': " + ares_strerror(rc));
    }
  }
  impl->timer = new uv_timer_t;
  uv_timer_init(loop, impl->timer);
  impl->timer->data = impl.get();
  impl->idle = new uv_idle_t;
  uv_idle_init(loop, impl->idle);
  impl->idle->data = impl.get();
  return std::unique_ptr<AresResolver>(new AresResolver(std::move(impl)));
}

AresResolver::AresResolver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AresResolver::~AresResolver() {
  Impl& impl = *impl_;
  *impl.alive = false;
  impl.destroying = true;
  // Calls on_reply with ARES_EDESTRUCTION for every pending query (dropped there) and
  // on_sock_state(fd, 0, 0) for every open socket (its poll handle is closed there).
  if (impl.channel) ares_destroy(impl.channel);
  impl.channel = nullptr;
  for (auto& [fd, p] : impl.polls) close_and_delete(reinterpret_cast<uv_handle_t*>(p));
  impl.polls.clear();
  close_and_delete(reinterpret_cast<uv_handle_t*>(impl.timer));
  close_and_delete(reinterpret_cast<uv_handle_t*>(impl.idle));
  impl.ready.clear();
  impl.inflight.clear();
}

void AresResolver::lookup_srv(std::string name, std::function<void(SrvAnswer)> cb) {
  impl_->start(kTypeSrv, std::move(name),
               [cb = std::move(cb)](const AnyAnswer& a) { cb(std::get<SrvAnswer>(a)); });
}

void AresResolver::lookup_mx(std::string name, std::function<void(MxAnswer)> cb) {
  impl_->start(kTypeMx, std::move(name),
               [cb = std::move(cb)](const AnyAnswer& a) { cb(std::get<MxAnswer>(a)); });
}

void AresResolver::lookup_a(std::string name, std::function<void(AddressAnswer)> cb) {
  impl_->start(kTypeA, std::move(name),
               [cb = std::move(cb)](const AnyAnswer& a) { cb(std::get<AddressAnswer>(a)); });
}

void AresResolver::lookup_aaaa(std::string name, std::function<void(AddressAnswer)> cb) {
  impl_->start(kTypeAaaa, std::move(name),
               [cb = std::move(cb)](const AnyAnswer& a) { cb(std::get<AddressAnswer>(a)); });
}

void AresResolver::lookup_tlsa(std::string name, std::function<void(TlsaAnswer)> cb) {
  impl_->start(kTypeTlsa, std::move(name),
               [cb = std::move(cb)](const AnyAnswer& a) { cb(std::get<TlsaAnswer>(a)); });
}

void AresResolver::lookup_txt(std::string name, std::function<void(TxtAnswer)> cb) {
  impl_->start(kTypeTxt, std::move(name),
               [cb = std::move(cb)](const AnyAnswer& a) { cb(std::get<TxtAnswer>(a)); });
}

void AresResolver::post(std::function<void()> fn) { impl_->schedule(std::move(fn)); }

const ResolverStats& AresResolver::stats() const { return impl_->stats; }
std::size_t AresResolver::cache_entries() const { return impl_->cache.size(); }
void AresResolver::clear_cache() { impl_->cache.clear(); }

}  // namespace secmx::dns
