// <think> splitting for streamed deltas and whole texts, both template styles, and the thinking budget.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fp4/runtime/reasoning_parser.h"

namespace fp4::runtime {
namespace {

using Delta = ReasoningParser::Delta;

Delta stream(ReasoningParser& parser, const std::vector<std::string>& pieces) {
  Delta all;
  for (const std::string& piece : pieces) {
    Delta d = parser.push(piece);
    all.reasoning += d.reasoning;
    all.content += d.content;
  }
  Delta last = parser.finish();
  all.reasoning += last.reasoning;
  all.content += last.content;
  return all;
}

// Every chunking of text into consecutive non-empty pieces.
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

TEST(ReasoningParser, WholeTextBothTemplateStyles) {
  // R1-0528: the prompt opened the block, only the close tag is generated.
  Delta d = ReasoningParser::split("Let me add.\n2+2=4\n</think>\n\nThe answer is 4.", true);
  EXPECT_EQ(d.reasoning, "Let me add.\n2+2=4\n");
  EXPECT_EQ(d.content, "The answer is 4.");
  // The model opens the block itself.
  d = ReasoningParser::split("<think>\nhmm</think>\n\nYes.", false);
  EXPECT_EQ(d.reasoning, "hmm");
  EXPECT_EQ(d.content, "Yes.");
  // No block at all.
  d = ReasoningParser::split("Just an answer <think>", false);
  EXPECT_EQ(d.reasoning, "");
  EXPECT_EQ(d.content, "Just an answer <think>");
  // Never closed: all reasoning, including a dangling partial tag.
  d = ReasoningParser::split("still thinking </thi", true);
  EXPECT_EQ(d.reasoning, "still thinking </thi");
  EXPECT_EQ(d.content, "");
  // Only a partial open tag came: it is content.
  d = ReasoningParser::split("<thi", false);
  EXPECT_EQ(d.content, "<thi");
}

// Chunkings into at most three pieces: every position of one and two cuts, O(n^2).
std::vector<std::vector<std::string>> chunkings_up_to_three(const std::string& text) {
  std::vector<std::vector<std::string>> out;
  for (size_t a = 1; a <= text.size(); ++a) {
    for (size_t b = a; b <= text.size(); ++b) {
      std::vector<std::string> pieces = {text.substr(0, a)};
      if (b > a) pieces.push_back(text.substr(a, b - a));
      if (b < text.size()) pieces.push_back(text.substr(b));
      out.push_back(pieces);
    }
  }
  std::vector<std::string> bytes;  // and one byte per piece
  for (char c : text) bytes.emplace_back(1, c);
  out.push_back(bytes);
  return out;
}

void expect_chunkings_agree(const std::string& text, bool in_prompt,
                            const std::vector<std::vector<std::string>>& chunkings) {
  const Delta whole = ReasoningParser::split(text, in_prompt);
  for (const auto& pieces : chunkings) {
    ReasoningParser parser(in_prompt);
    const Delta d = stream(parser, pieces);
    ASSERT_EQ(d.reasoning, whole.reasoning) << text << " in " << pieces.size() << " pieces";
    ASSERT_EQ(d.content, whole.content) << text << " in " << pieces.size() << " pieces";
  }
}

TEST(ReasoningParser, EveryChunkingAgreesWithTheWholeText) {
  // Short texts in all 2^(n-1) chunkings (8192 and 4096): tags split at every position and into every
  // number of pieces, and a "<" that starts no tag on each side.
  const std::string opened = "a<b</think>\nc<";
  const std::string model_opens = " <think>x</think";
  expect_chunkings_agree(opened, true, all_chunkings(opened));
  expect_chunkings_agree(model_opens, false, all_chunkings(model_opens));
  EXPECT_EQ(ReasoningParser::split(opened, true).reasoning, "a<b");
  EXPECT_EQ(ReasoningParser::split(opened, true).content, "c<");
  EXPECT_EQ(ReasoningParser::split(model_opens, false).reasoning, "x</think");
  EXPECT_EQ(ReasoningParser::split(model_opens, false).content, "");
}

TEST(ReasoningParser, RealisticTextAgreesInEveryTwoCutChunking) {
  const std::string r1 = "Okay, 2 < 3 and </b> is not a tag.\n</think>\n\n**Answer:** 3 </think> stays.";
  expect_chunkings_agree(r1, true, chunkings_up_to_three(r1));
  const Delta d = ReasoningParser::split(r1, true);
  EXPECT_EQ(d.reasoning, "Okay, 2 < 3 and </b> is not a tag.\n");
  EXPECT_EQ(d.content, "**Answer:** 3 </think> stays.");
  const std::string opens = "\n<think>\nHmm.</think>Done";
  expect_chunkings_agree(opens, false, chunkings_up_to_three(opens));
  EXPECT_EQ(ReasoningParser::split(opens, false).reasoning, "Hmm.");
  EXPECT_EQ(ReasoningParser::split(opens, false).content, "Done");
}

TEST(ReasoningParser, StreamingHoldsOnlyAPossibleTag) {
  ReasoningParser parser(true);
  EXPECT_EQ(parser.push("one").reasoning, "one");
  Delta d = parser.push(" two </th");
  EXPECT_EQ(d.reasoning, " two ");  // "</th" could be the close tag
  d = parser.push("ink>\n\nAns");
  EXPECT_EQ(d.reasoning, "");
  EXPECT_EQ(d.content, "Ans");
  EXPECT_FALSE(parser.in_reasoning());
  EXPECT_EQ(parser.push("wer").content, "wer");
}

TEST(ReasoningParser, PromptOpensReasoning) {
  EXPECT_TRUE(ReasoningParser::prompt_opens_reasoning("<｜User｜>hi<｜Assistant｜><think>\n"));
  EXPECT_FALSE(ReasoningParser::prompt_opens_reasoning("<｜User｜>hi<｜Assistant｜>"));
  EXPECT_FALSE(ReasoningParser::prompt_opens_reasoning("<think>old</think> next turn"));
}

TEST(ReasoningParser, ThinkingBudgetAsksToForceTheClose) {
  ReasoningParser parser(true, 3);
  EXPECT_FALSE(parser.force_close());
  parser.push("a");
  parser.push("b");
  EXPECT_FALSE(parser.force_close());
  parser.push("c");
  EXPECT_EQ(parser.reasoning_tokens(), 3);
  EXPECT_TRUE(parser.force_close());
  // The engine forces the close text (its tokens, one push each or all at once).
  const Delta d = parser.push(ReasoningParser::kForcedCloseText, 4);
  EXPECT_EQ(d.reasoning, "\n");
  EXPECT_FALSE(parser.in_reasoning());
  EXPECT_FALSE(parser.force_close());
  EXPECT_EQ(parser.push("Answer").content, "Answer");
  EXPECT_EQ(parser.reasoning_tokens(), 3);
}

TEST(ReasoningParser, BudgetCountsOnlyTokensInsideTheBlock) {
  ReasoningParser parser(false, 2);
  parser.push("<think>");  // the tag token opens the block and is not counted
  EXPECT_EQ(parser.reasoning_tokens(), 0);
  parser.push("x");
  EXPECT_FALSE(parser.force_close());
  parser.push("y");
  EXPECT_TRUE(parser.force_close());
  ReasoningParser zero(true, 0);  // a zero budget closes before any reasoning token
  EXPECT_TRUE(zero.force_close());
}

}  // namespace
}  // namespace fp4::runtime
