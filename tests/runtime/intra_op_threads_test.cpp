#include "runtime/intra_op_threads.h"

#include <gtest/gtest.h>

#include <thread>

namespace adascale::runtime {
namespace {

TEST(IntraOpThreads, OneThreadAlsoTurnsThePthreadpoolOff) {
  ScopedThreadSettings restore;
  set_intra_op_threads(2);
  EXPECT_EQ(intra_op_threads(), 2);
  EXPECT_TRUE(pthreadpool_enabled());
  set_intra_op_threads(1);
  EXPECT_EQ(intra_op_threads(), 1);
  EXPECT_FALSE(pthreadpool_enabled());
  set_intra_op_threads(0);  // ignored
  EXPECT_EQ(intra_op_threads(), 1);
}

TEST(IntraOpThreads, XnnpackThreadsKeepOpenMpToTheCallingThread) {
  ScopedThreadSettings restore;
  set_intra_op_threads(2);
  set_xnnpack_threads(2);
  EXPECT_EQ(intra_op_threads(), 1);
  EXPECT_TRUE(pthreadpool_enabled());
  set_xnnpack_threads(1);
  EXPECT_EQ(intra_op_threads(), 1);
  EXPECT_FALSE(pthreadpool_enabled());
  set_xnnpack_threads(2);
  EXPECT_TRUE(pthreadpool_enabled());
}

TEST(IntraOpThreads, ScopedSettingsComeBackAsTheyWere) {
  ScopedThreadSettings outer;
  set_intra_op_threads(2);
  {
    ScopedThreadSettings inner;
    set_xnnpack_threads(1);
  }
  EXPECT_EQ(intra_op_threads(), 2);
  EXPECT_TRUE(pthreadpool_enabled());
  set_intra_op_threads(1);
  {
    ScopedThreadSettings inner;
    set_intra_op_threads(2);
  }
  EXPECT_EQ(intra_op_threads(), 1);
  EXPECT_FALSE(pthreadpool_enabled());
}

TEST(IntraOpThreads, SettingsBelongToTheCallingThread) {
  ScopedThreadSettings restore;
  set_intra_op_threads(2);
  int seen = 0;
  bool pool = true;
  std::thread other([&] {
    set_xnnpack_threads(1);
    seen = intra_op_threads();
    pool = pthreadpool_enabled();
  });
  other.join();
  EXPECT_EQ(seen, 1);
  EXPECT_FALSE(pool);
  EXPECT_EQ(intra_op_threads(), 2);
  EXPECT_TRUE(pthreadpool_enabled());
}

}  // namespace
}  // namespace adascale::runtime
