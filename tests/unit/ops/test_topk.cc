// Top-k: order, the documented tie rule, NaN and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/ops/topk.h"

namespace fp4::cpu {
namespace {

using TopkFn = void (*)(const float*, int64_t, int64_t, int32_t*, float*);

class Topk : public ::testing::TestWithParam<TopkFn> {};

TEST_P(Topk, SortedLargestFirst) {
  const std::vector<float> x = {0.1f, 0.9f, -3.0f, 0.5f, 2.0f};
  std::vector<int32_t> idx(3);
  std::vector<float> val(3);
  GetParam()(x.data(), 5, 3, idx.data(), val.data());
  EXPECT_EQ(idx, (std::vector<int32_t>{4, 1, 3}));
  EXPECT_EQ(val, (std::vector<float>{2.0f, 0.9f, 0.5f}));
}

TEST_P(Topk, TiesGoToTheLowerIndex) {
  // Five equal values, k = 2 → indices 1 and 2 (then 4, 6 ...), also when k cuts through the tie group
  // after larger values. −0 equals +0.
  const std::vector<float> x = {0.0f, 1.0f, 1.0f, 3.0f, 1.0f, -0.0f, 1.0f, 1.0f};
  std::vector<int32_t> idx(4);
  GetParam()(x.data(), 8, 4, idx.data(), nullptr);
  EXPECT_EQ(idx, (std::vector<int32_t>{3, 1, 2, 4}));
  const std::vector<float> zeros = {-0.0f, 0.0f, -0.0f};
  std::vector<int32_t> zi(2);
  GetParam()(zeros.data(), 3, 2, zi.data(), nullptr);
  EXPECT_EQ(zi, (std::vector<int32_t>{0, 1}));
}

TEST_P(Topk, NanRanksFirstLikeTorch) {
  const std::vector<float> x = {1.0f, NAN, 5.0f, -INFINITY, NAN};
  std::vector<int32_t> idx(5);
  GetParam()(x.data(), 5, 5, idx.data(), nullptr);
  EXPECT_EQ(idx, (std::vector<int32_t>{1, 4, 2, 0, 3}));
}

TEST_P(Topk, LargeKAndEdgeK) {
  // k above the insertion threshold takes the partition path; the result must be the same ranking.
  std::vector<float> x(1000);
  for (int i = 0; i < 1000; ++i) x[i] = static_cast<float>((i * 7919) % 1000 / 10);  // 10-way ties
  std::vector<int32_t> idx(100);
  GetParam()(x.data(), 1000, 100, idx.data(), nullptr);
  for (int j = 1; j < 100; ++j) {
    const float a = x[idx[j - 1]], b = x[idx[j]];
    ASSERT_TRUE(a > b || (a == b && idx[j - 1] < idx[j])) << j;
  }
  EXPECT_EQ(x[idx[0]], 99.0f);
  GetParam()(x.data(), 1000, 0, idx.data(), nullptr);  // k = 0 writes nothing, no error
  std::vector<int32_t> all(1000);
  GetParam()(x.data(), 1000, 1000, all.data(), nullptr);
  EXPECT_EQ(x[all[999]], 0.0f);
}

TEST_P(Topk, RejectsKOutOfRange) {
  const std::vector<float> x = {1, 2, 3};
  std::vector<int32_t> idx(4);
  try {
    GetParam()(x.data(), 3, 4, idx.data(), nullptr);
    FAIL() << "k > n accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("k must be in [0, n = 3]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(GetParam()(x.data(), 3, -1, idx.data(), nullptr), Error);
}

INSTANTIATE_TEST_SUITE_P(FastAndReference, Topk, ::testing::Values(&topk, &reference::topk),
                         [](const auto& info) { return info.index == 0 ? std::string("fast") : std::string("reference"); });

}  // namespace
}  // namespace fp4::cpu
