// The progress bar's text (what a terminal shows) and its silence when not on a terminal.
#include "fp4/base/progress_bar.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace fp4 {
namespace {

TEST(ProgressBar, RendersFractionRateAndEta) {
  ProgressBar bar("quantize", 1'000'000'000, ProgressBar::Unit::kBytes, nullptr, false);
  // 250 MB of 1 GB in 10 s: 25 MB/s, 750 MB left → 30 s.
  const std::string line = bar.render(250'000'000, 10.0, "model.layers.3.mlp", 200);
  EXPECT_EQ(line, "quantize [#####---------------]  25%  250.0 MB/1.0 GB  25.0 MB/s  ETA 0:30  model.layers.3.mlp");
}

TEST(ProgressBar, CountsWithoutTotalShowNoEta) {
  ProgressBar bar("eval", 0, ProgressBar::Unit::kCount, nullptr, false);
  EXPECT_EQ(bar.render(12, 4.0, "", 200), "eval  12  3.00/s");
}

TEST(ProgressBar, FinishedShowsElapsedAndLongLinesAreCut) {
  ProgressBar bar("eval", 8, ProgressBar::Unit::kCount, nullptr, false);
  EXPECT_EQ(bar.render(8, 65.0, "", 200), "eval [####################] 100%  8/8  0.12/s  1:05");
  EXPECT_EQ(bar.render(8, 65.0, std::string(300, 'x'), 60).size(), 60u);
}

TEST(ProgressBar, DrawsNothingWhenDisabled) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    ProgressBar bar("x", 10, ProgressBar::Unit::kCount, f, false);
    bar.update(5, "item");
  }
  EXPECT_EQ(std::ftell(f), 0);
  std::fclose(f);
}

TEST(ProgressBar, DrawsAndEndsTheLineWhenEnabled) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    ProgressBar bar("x", 10, ProgressBar::Unit::kCount, f, true);
    bar.update(10, "last");
  }
  std::rewind(f);
  char buf[512] = {};
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  const std::string text(buf, n);
  EXPECT_EQ(text.front(), '\r');
  EXPECT_EQ(text.back(), '\n');
  EXPECT_NE(text.find("10/10"), std::string::npos);
  std::fclose(f);
}

TEST(FormatDuration, ClockReadings) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(65.4), "1:05");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(-1), "?");
}

TEST(FormatBytes, DecimalUnits) {
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(14.9e6), "14.9 MB");
  EXPECT_EQ(format_bytes(31.04e9), "31.0 GB");
}

}  // namespace
}  // namespace fp4
