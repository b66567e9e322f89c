// Stop strings across token boundaries, overlapping prefixes, and stop token ids.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fp4/runtime/stop_matcher.h"

namespace fp4::runtime {
namespace {

struct Outcome {
  std::string text;
  std::optional<std::string> stopped;
  std::vector<std::string> emitted;  // what each push released
};

// Streams the pieces through the matcher the way the engine does, flushing at the end when no stop hit.
Outcome stream(StopMatcher& m, const std::vector<std::string>& pieces) {
  Outcome o;
  for (const std::string& piece : pieces) {
    auto r = m.push(piece);
    o.emitted.push_back(r.text);
    o.text += r.text;
    if (r.stopped) {
      o.stopped = r.stopped;
      return o;
    }
  }
  o.text += m.flush();
  return o;
}

// Every way of cutting text into consecutive non-empty pieces (2^(n-1) of them).
std::vector<std::vector<std::string>> all_chunkings(const std::string& text) {
  std::vector<std::vector<std::string>> out;
  const size_t cuts = text.size() - 1;
  for (uint64_t mask = 0; mask < (uint64_t{1} << cuts); ++mask) {
    std::vector<std::string> pieces;
    size_t start = 0;
    for (size_t i = 0; i < cuts; ++i) {
      if (mask & (uint64_t{1} << i)) {
        pieces.push_back(text.substr(start, i + 1 - start));
        start = i + 1;
      }
    }
    pieces.push_back(text.substr(start));
    out.push_back(pieces);
  }
  return out;
}

TEST(StopMatcher, StopStringSplitAcrossAnyNumberOfTokens) {
  // "Hello END world": the stop "END" arrives in 1..n pieces in every possible chunking.
  for (const auto& pieces : all_chunkings("Hello END world")) {
    StopMatcher m({"END"}, {});
    const Outcome o = stream(m, pieces);
    ASSERT_TRUE(o.stopped.has_value());
    EXPECT_EQ(*o.stopped, "END");
    EXPECT_EQ(o.text, "Hello ");
    EXPECT_TRUE(m.stopped());
  }
}

TEST(StopMatcher, OverlappingPrefixes) {
  // "abc" inside "ababc": the first "ab" looks like a start and must be released when "a" follows.
  for (const auto& pieces : all_chunkings("xababcyy")) {
    StopMatcher m({"abc"}, {});
    const Outcome o = stream(m, pieces);
    ASSERT_TRUE(o.stopped.has_value());
    EXPECT_EQ(o.text, "xab");
  }
  StopMatcher m({"aab"}, {});
  EXPECT_EQ(stream(m, {"a", "a", "a", "a", "b", "c"}).text, "aa");  // "aaaab" holds "aa" then matches
}

TEST(StopMatcher, HoldsOnlyWhatCouldStillMatch) {
  StopMatcher m({"</answer>"}, {});
  EXPECT_EQ(m.push("The answer is 4").text, "The answer is 4");
  EXPECT_EQ(m.push(" </ans").text, " ");  // "</ans" may become the stop string
  EXPECT_EQ(m.held_bytes(), 5u);
  EXPECT_EQ(m.push("wers").text, "</answers");  // it cannot any more: released
  EXPECT_EQ(m.held_bytes(), 0u);
  EXPECT_EQ(m.push(" <").text, " ");
  EXPECT_EQ(m.flush(), "<");  // end of generation: the held tail is real output
}

TEST(StopMatcher, EarliestOfSeveralStopsWinsAndLaterPushesAreEmpty) {
  StopMatcher m({"world", "lo w", "\n\n"}, {});
  const auto r = m.push("Hello world\n\nmore");
  EXPECT_EQ(r.text, "Hel");
  EXPECT_EQ(*r.stopped, "lo w");
  EXPECT_TRUE(m.push("anything").text.empty());
}

TEST(StopMatcher, IncludeStopStringKeepsIt) {
  for (const auto& pieces : all_chunkings("ab\n\ncd")) {
    StopMatcher m({"\n\n"}, {}, /*include_stop_string=*/true);
    EXPECT_EQ(stream(m, pieces).text, "ab\n\n");
  }
}

TEST(StopMatcher, NoStopStringsReleasesEverythingAtOnce) {
  StopMatcher m({}, {});
  EXPECT_EQ(m.push("abc").text, "abc");
  EXPECT_EQ(m.held_bytes(), 0u);
}

TEST(StopMatcher, MultiByteTextIsNeverCutInsideACharacter) {
  // Stop "é!" (c3 a9 21); the text holds "é" then "x": the held tail starts at a character boundary.
  StopMatcher m({"\xc3\xa9!"}, {});
  EXPECT_EQ(m.push("caf\xc3\xa9").text, "caf");
  EXPECT_EQ(m.push("x").text, "\xc3\xa9x");
}

TEST(StopMatcher, StopTokenIdsAndEos) {
  sampling::SamplingParams p;
  p.stop_token_ids = {7};
  const StopMatcher with_eos = StopMatcher::from_params(p, {2});
  EXPECT_TRUE(with_eos.stop_token(7));
  EXPECT_TRUE(with_eos.stop_token(2));
  EXPECT_FALSE(with_eos.stop_token(3));
  p.ignore_eos = true;
  const StopMatcher no_eos = StopMatcher::from_params(p, {2});
  EXPECT_TRUE(no_eos.stop_token(7));
  EXPECT_FALSE(no_eos.stop_token(2));
}

}  // namespace
}  // namespace fp4::runtime
