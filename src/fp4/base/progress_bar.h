// A one-line progress bar with rate and ETA for long commands (quantize, eval). It draws only when its
// stream is a terminal, so logs and pipes stay clean; redraws at most 10 times a second.
//
//   quantize [##########----------]  48%  14.9/31.0 GB  212 MB/s  ETA 1:16  model.layers.12.mlp.experts.40
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace fp4 {

class ProgressBar {
 public:
  enum class Unit : uint8_t { kCount, kBytes };

  // total 0: unknown (no percentage, bar or ETA). enabled: draw at all (default: out is a terminal).
  ProgressBar(std::string label, uint64_t total, Unit unit = Unit::kCount, std::FILE* out = stderr);
  ProgressBar(std::string label, uint64_t total, Unit unit, std::FILE* out, bool enabled);
  ~ProgressBar();  // finish()
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Sets the amount done so far and the item being worked on.
  void update(uint64_t done, std::string_view detail = {});
  // Draws the final state and ends the line. Idempotent.
  void finish();

  bool enabled() const { return enabled_; }
  // The line update() would draw at `elapsed_seconds` (also what tests check).
  std::string render(uint64_t done, double elapsed_seconds, std::string_view detail, int width = 100) const;

 private:
  void draw(bool force);

  std::string label_;
  uint64_t total_ = 0;
  Unit unit_;
  std::FILE* out_;
  bool enabled_ = false;
  bool finished_ = false;
  uint64_t done_ = 0;
  std::string detail_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1:05", "1:02:03": seconds as a clock reading.
std::string format_duration(double seconds);
// "512 B", "14.9 MB", "31.0 GB" (decimal units, as disk sizes are quoted).
std::string format_bytes(double bytes);

}  // namespace fp4
