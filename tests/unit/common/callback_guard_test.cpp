// callback_guard_test.cpp - the exception rule at callback boundaries, and fault injection.
#include "relay/common/callback_guard.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace secmx::common {
namespace {

struct Captured {
  std::ostringstream out;
  std::shared_ptr<spdlog::logger> log;
  Captured() {
    log = std::make_shared<spdlog::logger>(
        "guard-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
    log->set_pattern("%l %v");
  }
};

TEST(CallbackGuard, PassesThroughWhenNothingThrows) {
  Captured c;
  int ran = 0, failed = 0;
  EXPECT_TRUE(guard(*c.log, "session=1", "read", [&] { ++ran; }, [&] { ++failed; }));
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(c.out.str(), "");
}

TEST(CallbackGuard, CatchesLogsWithIdAndFails) {
  Captured c;
  int failed = 0;
  EXPECT_FALSE(guard(*c.log, "session=7", "read",
                     [] { throw std::runtime_error("bad\r\nFORGED"); }, [&] { ++failed; }));
  EXPECT_EQ(failed, 1);
  // One line, with the id, the place, and the text escaped (no forged line).
  EXPECT_EQ(c.out.str(),
            "error session=7 event=exception where=read what=bad\\x0d\\x0aFORGED\n");
}

TEST(CallbackGuard, CatchesNonStandardExceptions) {
  Captured c;
  int failed = 0;
  EXPECT_FALSE(guard(*c.log, "queue_id=AB", "sent", [] { throw 42; }, [&] { ++failed; }));
  EXPECT_EQ(failed, 1);
  EXPECT_NE(c.out.str().find("what=unknown exception"), std::string::npos);
}

TEST(CallbackGuard, AThrowingFailureHandlerIsContained) {
  Captured c;
  EXPECT_FALSE(guard(*c.log, "session=2", "timer", [] { throw std::runtime_error("x"); },
                     [] { throw std::runtime_error("y"); }));
  EXPECT_NE(c.out.str().find("critical session=2 event=exception where=timer"),
            std::string::npos);
}

// ctest runs each test in its own process, so the variable is read here first.
TEST(InjectFault, ThrowsOnlyAtTheNamedPointAndOnlyAsOftenAsAsked) {
  ASSERT_EQ(setenv("SECMX_TEST_INJECT_THROW", "unit.point:2", 1), 0);
  EXPECT_NO_THROW(inject_fault("unit.other"));
  EXPECT_THROW(inject_fault("unit.point"), std::runtime_error);
  EXPECT_THROW(inject_fault("unit.point"), std::runtime_error);
  EXPECT_NO_THROW(inject_fault("unit.point"));
  EXPECT_NO_THROW(inject_fault("unit.point"));
}

}  // namespace
}  // namespace secmx::common
