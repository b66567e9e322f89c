#include "fp4/base/progress_bar.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace fp4 {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

std::string format_bytes(double bytes) {
  if (bytes < 1e3) return fmt::format("{:.0f} B", bytes);
  if (bytes < 1e6) return fmt::format("{:.1f} kB", bytes / 1e3);
  if (bytes < 1e9) return fmt::format("{:.1f} MB", bytes / 1e6);
  return fmt::format("{:.1f} GB", bytes / 1e9);
}

ProgressBar::ProgressBar(std::string label, uint64_t total, Unit unit, std::FILE* out)
    : ProgressBar(std::move(label), total, unit, out, out != nullptr && isatty(fileno(out)) == 1) {}

ProgressBar::ProgressBar(std::string label, uint64_t total, Unit unit, std::FILE* out, bool enabled)
    : label_(std::move(label)), total_(total), unit_(unit), out_(out), enabled_(enabled && out != nullptr),
      start_(std::chrono::steady_clock::now()), last_draw_(start_ - std::chrono::seconds(1)) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(uint64_t done, std::string_view detail) {
  done_ = done;
  detail_.assign(detail);
  draw(false);
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  draw(true);
  std::fputc('\n', out_);
  std::fflush(out_);
}

std::string ProgressBar::render(uint64_t done, double elapsed, std::string_view detail, int width) const {
  const auto amount = [&](double v) {
    return unit_ == Unit::kBytes ? format_bytes(v) : fmt::format("{:.0f}", v);
  };
  std::string line = label_;
  if (total_ > 0) {
    const double frac = std::clamp(static_cast<double>(done) / static_cast<double>(total_), 0.0, 1.0);
    constexpr int kBar = 20;
    const int filled = static_cast<int>(frac * kBar);
    line += fmt::format(" [{}{}] {:3.0f}%  ", std::string(static_cast<size_t>(filled), '#'),
                        std::string(static_cast<size_t>(kBar - filled), '-'), frac * 100.0);
    line += unit_ == Unit::kBytes ? fmt::format("{}/{}", amount(double(done)), amount(double(total_)))
                                  : fmt::format("{}/{}", done, total_);
  } else {
    line += fmt::format("  {}", amount(double(done)));
  }
  if (elapsed > 0 && done > 0) {
    const double rate = static_cast<double>(done) / elapsed;
    line += unit_ == Unit::kBytes ? fmt::format("  {}/s", format_bytes(rate)) : fmt::format("  {:.2f}/s", rate);
    if (total_ > 0 && done < total_) {
      line += "  ETA " + format_duration(static_cast<double>(total_ - done) / rate);
    } else if (total_ > 0) {
      line += "  " + format_duration(elapsed);
    }
  }
  if (!detail.empty()) line += fmt::format("  {}", detail);
  if (width > 0 && line.size() > static_cast<size_t>(width)) line.resize(static_cast<size_t>(width));
  return line;
}

void ProgressBar::draw(bool force) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  // \r back to the line start, then clear to its end (ANSI EL) so a shorter line leaves no tail.
  std::fprintf(out_, "\r%s\x1b[K", render(done_, elapsed, detail_).c_str());
  std::fflush(out_);
}

}  // namespace fp4
