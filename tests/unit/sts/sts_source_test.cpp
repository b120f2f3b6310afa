// sts_source_test.cpp - the MTA-STS source's decisions (sts_source.hpp), driven by a
// scripted resolver and a fetch the test completes by hand, over a real durable cache in
// a temp directory: cache hit, id change, fetch failure with and without a cached policy,
// expiry, TXT absent with a cached policy, shared fetches, refresh rounds, mode none.
#include "relay/sts/sts_source.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <optional>

#include "tests/unit/temp_dir.hpp"

namespace secmx::sts {
namespace {

constexpr std::int64_t kSecond = 1000000;

class ScriptedTxt final : public dns::Resolver {
 public:
  std::map<std::string, dns::TxtAnswer> txt;  // by name; absent: NXDOMAIN
  std::vector<std::string> asked;

  void lookup_srv(std::string, std::function<void(dns::SrvAnswer)>) override { ADD_FAILURE(); }
  void lookup_mx(std::string, std::function<void(dns::MxAnswer)>) override { ADD_FAILURE(); }
  void lookup_a(std::string, std::function<void(dns::AddressAnswer)>) override { ADD_FAILURE(); }
  void lookup_aaaa(std::string, std::function<void(dns::AddressAnswer)>) override { ADD_FAILURE(); }
  void lookup_txt(std::string name, std::function<void(dns::TxtAnswer)> cb) override {
    asked.push_back(name);
    dns::TxtAnswer a;
    a.status = dns::LookupStatus::NxDomain;
    if (auto it = txt.find(name); it != txt.end()) a = it->second;
    post([cb = std::move(cb), a] { cb(a); });
  }
  void post(std::function<void()> fn) override { queue_.push_back(std::move(fn)); }

  void run() {
    while (!queue_.empty()) {
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      fn();
    }
  }

  void publish(const std::string& domain, const std::string& id) {
    dns::TxtAnswer a;
    a.status = dns::LookupStatus::Ok;
    a.ttl = 300;
    a.records = {{{"v=STSv1; ", "id=" + id + ";"}}, {{"unrelated text"}}};
    txt["_mta-sts." + domain] = a;
  }
  void withdraw(const std::string& domain) { txt.erase("_mta-sts." + domain); }
  void fail_temporarily(const std::string& domain) {
    dns::TxtAnswer a;
    a.error = "timeout";
    txt["_mta-sts." + domain] = a;
  }

 private:
  std::deque<std::function<void()>> queue_;
};

std::string policy_text(const char* mode, int max_age, const char* mx = "mx.d.test") {
  return std::string("version: STSv1\nmode: ") + mode + "\nmx: " + mx +
         "\nmax_age: " + std::to_string(max_age) + "\n";
}

class StsSourceTest : public ::testing::Test {
 protected:
  StsSourceTest() { reopen(); }

  void reopen() {
    source_.reset();
    cache_.reset();
    auto store = queue::StsStore::open(dir_.sub("mta-sts.mdb"));
    EXPECT_TRUE(store.ok());
    cache_ = std::make_unique<StsCache>(store.ok() ? std::move(*store) : nullptr);
    source_ = std::make_unique<StsSource>(
        dns_, *cache_,
        [this](const std::string& d, std::function<void(FetchResult)> done) {
          fetches_.push_back({d, std::move(done)});
        },
        [this] { return now_; });
  }

  // policy_for(), the scripted DNS answered; the state if the callback already ran.
  std::optional<StsState> ask(const std::string& domain) {
    auto out = std::make_shared<std::optional<StsState>>();
    source_->policy_for(domain, [out](StsState s) { *out = std::move(s); });
    dns_.run();
    return *out;
  }

  // Completes the oldest outstanding fetch.
  void serve(const std::string& body) {
    ASSERT_FALSE(fetches_.empty());
    auto f = std::move(fetches_.front());
    fetches_.pop_front();
    auto p = parse_sts_policy(body);
    ASSERT_TRUE(p.ok());
    f.second(std::move(*p));
    dns_.run();
  }
  void refuse(StsFailure failure, const std::string& detail) {
    ASSERT_FALSE(fetches_.empty());
    auto f = std::move(fetches_.front());
    fetches_.pop_front();
    f.second(fail(FetchFailure{failure, detail}));
    dns_.run();
  }

  // The domain's policy fetched once under `id`; returns the first state.
  StsState establish(const std::string& domain, const std::string& id, int max_age = 86400) {
    dns_.publish(domain, id);
    auto out = std::make_shared<std::optional<StsState>>();
    source_->policy_for(domain, [out](StsState s) { *out = std::move(s); });
    dns_.run();
    EXPECT_FALSE(out->has_value()) << "a fetch must come first";
    serve(policy_text("enforce", max_age));
    EXPECT_TRUE(out->has_value());
    return out->value_or(StsState{});
  }

  test::TempDir dir_;
  ScriptedTxt dns_;
  std::int64_t now_ = 1700000000 * kSecond;
  std::deque<std::pair<std::string, std::function<void(FetchResult)>>> fetches_;
  std::unique_ptr<StsCache> cache_;
  std::unique_ptr<StsSource> source_;
};

TEST_F(StsSourceTest, NoTxtRecordNoPolicyNoFetch) {
  auto s = ask("d.test");
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->policy);
  EXPECT_EQ(s->failure, StsFailure::None);
  EXPECT_TRUE(fetches_.empty());
  EXPECT_EQ(dns_.asked, std::vector<std::string>{"_mta-sts.d.test"});
}

TEST_F(StsSourceTest, FirstFetchThenCacheHit) {
  StsState first = establish("d.test", "abc1");
  ASSERT_TRUE(first.policy);
  EXPECT_TRUE(first.enforce());
  EXPECT_FALSE(first.from_cache);
  EXPECT_EQ(first.id, "abc1");
  EXPECT_EQ(first.fetched_us, now_);
  EXPECT_EQ(first.policy->mx, std::vector<std::string>{"mx.d.test"});

  now_ += 60 * kSecond;
  auto again = ask("D.Test.");  // any spelling of the domain
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->from_cache);
  EXPECT_TRUE(again->enforce());
  EXPECT_EQ(again->fetched_us, first.fetched_us);
  EXPECT_TRUE(fetches_.empty()) << "same id: no second fetch";
  EXPECT_EQ(source_->fetches(), 1u);
}

TEST_F(StsSourceTest, IdChangeRefetches) {
  establish("d.test", "one");
  dns_.publish("d.test", "two");
  auto pending = ask("d.test");
  EXPECT_FALSE(pending) << "waits for the fetch";
  ASSERT_EQ(fetches_.size(), 1u);
  std::optional<StsState> got;
  source_->policy_for("d.test", [&](StsState s) { got = s; });  // joins the fetch
  dns_.run();
  serve(policy_text("testing", 3600, "*.d.test"));
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->testing());
  EXPECT_EQ(got->id, "two");
  EXPECT_EQ(cache_->get("d.test")->id, "two");
}

TEST_F(StsSourceTest, FetchFailureKeepsTheCachedPolicy) {
  establish("d.test", "one");
  dns_.publish("d.test", "two");
  std::optional<StsState> got;
  source_->policy_for("d.test", [&](StsState s) { got = s; });
  dns_.run();
  refuse(StsFailure::WebPki, "certificate does not name mta-sts.d.test");
  ASSERT_TRUE(got);
  ASSERT_TRUE(got->policy) << "RFC 8461 §5.1: the cached unexpired policy stays";
  EXPECT_TRUE(got->enforce());
  EXPECT_EQ(got->id, "one");
  EXPECT_TRUE(got->from_cache);
  EXPECT_EQ(got->failure, StsFailure::WebPki);
  EXPECT_EQ(got->detail, "certificate does not name mta-sts.d.test");
  auto last = cache_->last_failure("d.test");
  ASSERT_TRUE(last);
  EXPECT_EQ(last->failure, StsFailure::WebPki);
  EXPECT_EQ(cache_->get("d.test")->id, "one");
}

TEST_F(StsSourceTest, FetchFailureWithoutCacheIsNoPolicyWithTheFailure) {
  dns_.publish("d.test", "one");
  std::optional<StsState> got;
  source_->policy_for("d.test", [&](StsState s) { got = s; });
  dns_.run();
  refuse(StsFailure::Invalid, "line 2: mode must be enforce, testing or none");
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->policy);
  EXPECT_EQ(got->failure, StsFailure::Invalid);
  EXPECT_FALSE(cache_->get("d.test"));
}

TEST_F(StsSourceTest, TxtAbsentOrFailingKeepsTheCachedPolicy) {
  establish("d.test", "one");
  dns_.withdraw("d.test");
  auto s = ask("d.test");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->enforce()) << "TXT absence alone does not remove a policy";
  EXPECT_TRUE(s->from_cache);
  dns_.fail_temporarily("d.test");
  s = ask("d.test");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->enforce());
  EXPECT_TRUE(fetches_.empty());
}

TEST_F(StsSourceTest, ExpiredPolicyIsDroppedAndRefetched) {
  establish("d.test", "one", 3600);
  now_ += 3600 * kSecond;  // max_age reached
  dns_.withdraw("d.test");
  auto s = ask("d.test");
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->policy) << "expired and no TXT: no policy";
  EXPECT_FALSE(cache_->get("d.test"));

  establish("d.test", "one", 3600);
  now_ += 3601 * kSecond;
  auto pending = ask("d.test");
  EXPECT_FALSE(pending) << "expired with the same id: fetched again";
  EXPECT_EQ(fetches_.size(), 1u);
}

TEST_F(StsSourceTest, ExpiredPolicyIsNotKeptOnFetchFailure) {
  establish("d.test", "one", 3600);
  now_ += 4000 * kSecond;
  std::optional<StsState> got;
  source_->policy_for("d.test", [&](StsState s) { got = s; });
  dns_.run();
  refuse(StsFailure::FetchError, "HTTP 503");
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->policy);
  EXPECT_EQ(got->failure, StsFailure::FetchError);
}

TEST_F(StsSourceTest, ConcurrentRequestsShareOneLookupAndOneFetch) {
  dns_.publish("d.test", "one");
  std::vector<StsState> got;
  for (int i = 0; i < 5; ++i) source_->policy_for("d.test", [&](StsState s) { got.push_back(s); });
  dns_.run();
  EXPECT_EQ(dns_.asked.size(), 1u);
  ASSERT_EQ(fetches_.size(), 1u);
  serve(policy_text("enforce", 600));
  ASSERT_EQ(got.size(), 5u);
  for (const auto& s : got) {
    EXPECT_TRUE(s.enforce());
    EXPECT_EQ(s.id, "one");
  }
}

TEST_F(StsSourceTest, SurvivesRestart) {
  establish("d.test", "one");
  reopen();
  auto s = ask("d.test");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->enforce());
  EXPECT_TRUE(s->from_cache);
  EXPECT_TRUE(fetches_.empty());
}

TEST_F(StsSourceTest, ModeNoneIsCachedAndMeansNoPolicyToEnforce) {
  dns_.publish("d.test", "n1");
  std::optional<StsState> got;
  source_->policy_for("d.test", [&](StsState s) { got = s; });
  dns_.run();
  serve("version: STSv1\nmode: none\nmax_age: 86400\n");
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->enforce());
  EXPECT_FALSE(got->testing());
  auto again = ask("d.test");
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->from_cache);
  EXPECT_EQ(again->policy->mode, Mode::None);
  EXPECT_TRUE(fetches_.empty());
}

TEST_F(StsSourceTest, RefreshFetchesEvenWithTheSameId) {
  establish("d.test", "one");
  std::optional<StsState> got;
  source_->refresh("d.test", [&](StsState s) { got = s; });
  dns_.run();
  ASSERT_EQ(fetches_.size(), 1u);
  now_ += 10 * kSecond;
  serve(policy_text("testing", 600));
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->testing());
  EXPECT_FALSE(got->from_cache);
  EXPECT_EQ(cache_->get("d.test")->fetched_us, now_);
}

TEST_F(StsSourceTest, RefreshRoundRechecksAndRefetchesNearExpiry) {
  establish("a.test", "a1", 86400);
  establish("b.test", "b1", 86400);
  establish("c.test", "c1", 86400);
  dns_.asked.clear();
  auto all = [](const std::string&) { return true; };

  // Early in the policies' lives: only the TXT is re-checked; a changed id fetches.
  dns_.publish("b.test", "b2");
  EXPECT_EQ(source_->refresh_round(all, 2, std::chrono::hours(1)), 2u);
  dns_.run();
  EXPECT_EQ(dns_.asked, (std::vector<std::string>{"_mta-sts.a.test", "_mta-sts.b.test"}));
  ASSERT_EQ(fetches_.size(), 1u);
  EXPECT_EQ(fetches_.front().first, "b.test");
  serve(policy_text("enforce", 86400));
  EXPECT_EQ(cache_->get("b.test")->id, "b2");

  // The next round goes on where this one stopped, and wraps around.
  dns_.asked.clear();
  EXPECT_EQ(source_->refresh_round(all, 2, std::chrono::hours(1)), 2u);
  dns_.run();
  EXPECT_EQ(dns_.asked, (std::vector<std::string>{"_mta-sts.c.test", "_mta-sts.a.test"}));
  EXPECT_TRUE(fetches_.empty());

  // Less than a quarter of max_age left: fetched although the id is the same.
  now_ += 20 * 3600 * kSecond;
  dns_.asked.clear();
  EXPECT_EQ(source_->refresh_round([](const std::string& d) { return d == "c.test"; }, 10,
                                   std::chrono::hours(1)),
            1u);
  dns_.run();
  ASSERT_EQ(fetches_.size(), 1u);
  EXPECT_EQ(fetches_.front().first, "c.test");
}

TEST_F(StsSourceTest, PurgeForgetsPolicyAndFailure) {
  establish("d.test", "one");
  cache_->note_failure("d.test", LastFailure{StsFailure::FetchError, "HTTP 500", now_});
  EXPECT_TRUE(cache_->remove("d.test"));
  EXPECT_FALSE(cache_->get("d.test"));
  EXPECT_FALSE(cache_->last_failure("d.test"));
  reopen();
  EXPECT_FALSE(cache_->get("d.test")) << "purged durably";
  EXPECT_FALSE(cache_->remove("d.test"));
}

TEST_F(StsSourceTest, CallbacksNeverRunInsideTheCall) {
  bool called = false;
  source_->policy_for("d.test", [&](StsState) { called = true; });
  source_->policy_for("not a domain", [&](StsState) { called = true; });
  EXPECT_FALSE(called);
  dns_.run();
  EXPECT_TRUE(called);
}

}  // namespace
}  // namespace secmx::sts
