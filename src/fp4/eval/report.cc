#include "fp4/eval/report.h"

#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "fp4/base/error.h"

extern char** environ;

namespace fp4::eval {
namespace {

using json = nlohmann::ordered_json;

// Suite names in order of first appearance across the models.
std::vector<std::string> suite_columns(const std::vector<ModelScores>& models) {
  std::vector<std::string> cols;
  for (const auto& m : models) {
    for (const auto& s : m.suites) {
      if (std::find(cols.begin(), cols.end(), s.suite) == cols.end()) cols.push_back(s.suite);
    }
  }
  return cols;
}

const SuiteScore* find_suite(const ModelScores& m, const std::string& name) {
  for (const auto& s : m.suites) {
    if (s.suite == name) return &s;
  }
  return nullptr;
}

// The mean over the suites a model has (each suite weighs the same, as the model cards average).
std::optional<double> average(const ModelScores& m, const std::vector<std::string>& cols) {
  double sum = 0;
  for (const auto& c : cols) {
    const SuiteScore* s = find_suite(m, c);
    if (!s) return std::nullopt;
    sum += s->pass1;
  }
  return cols.empty() ? std::nullopt : std::optional<double>(sum / static_cast<double>(cols.size()));
}

std::string md_escape(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::optional<double> retention(const SuiteScore* a, const SuiteScore* b) {
  if (!a || !b || a->pass1 <= 0) return std::nullopt;
  return 100.0 * b->pass1 / a->pass1;
}

std::string find_on_path(const char* name) {
  const char* path = std::getenv("PATH");
  if (!path) return "";
  std::string_view rest(path);
  while (!rest.empty()) {
    const size_t colon = rest.find(':');
    const std::string candidate = std::string(rest.substr(0, colon)) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return "";
}

}  // namespace

std::string scores_markdown(const std::vector<ModelScores>& models) {
  const auto cols = suite_columns(models);
  std::string md = "| Model |";
  std::string rule = "|---|";
  for (const auto& c : cols) {
    md += fmt::format(" {} |", md_escape(c));
    rule += "---|";
  }
  md += fmt::format(" Average |\n{}---|\n", rule);
  for (const auto& m : models) {
    md += fmt::format("| {} |", md_escape(m.model));
    for (const auto& c : cols) {
      const SuiteScore* s = find_suite(m, c);
      md += s ? fmt::format(" {:.1f} [{:.1f}, {:.1f}] |", 100 * s->pass1, 100 * s->ci_low, 100 * s->ci_high) : " — |";
    }
    const auto avg = average(m, cols);
    md += avg ? fmt::format(" {:.1f} |\n", 100 * *avg) : " — |\n";
  }
  if (models.size() >= 2) {
    const ModelScores& a = models.front();
    const ModelScores& b = models.back();
    md += fmt::format("| Retention ({} / {}) |", md_escape(b.model), md_escape(a.model));
    for (const auto& c : cols) {
      const auto r = retention(find_suite(a, c), find_suite(b, c));
      md += r ? fmt::format(" {:.1f}% |", *r) : " — |";
    }
    const auto aa = average(a, cols), ab = average(b, cols);
    md += (aa && ab && *aa > 0) ? fmt::format(" {:.1f}% |\n", 100.0 * *ab / *aa) : " — |\n";
  }
  // What the numbers are.
  int64_t problems = 0;
  int k = 0;
  for (const auto& m : models) {
    for (const auto& s : m.suites) {
      problems = std::max(problems, s.problems);
      k = std::max(k, s.samples_per_problem);
    }
  }
  md += fmt::format(
      "\npass@1 in % (mean over problems of the fraction of {} sample(s) per problem that are correct); "
      "[95% CI] by percentile bootstrap over problems.\n",
      k);
  for (const auto& m : models) {
    for (const auto& s : m.suites) {
      if (s.truncated_samples > 0) {
        md += fmt::format("{} / {}: {} of {} samples hit max_tokens.\n", m.model, s.suite, s.truncated_samples,
                          s.total_samples);
      }
    }
  }
  return md;
}

nlohmann::ordered_json compare_json(const std::vector<ModelScores>& models) {
  json j;
  j["models"] = json::array();
  for (const auto& m : models) j["models"].push_back(scores_json(m));
  if (models.size() >= 2) {
    const auto cols = suite_columns(models);
    json r = json::object();
    for (const auto& c : cols) {
      const auto v = retention(find_suite(models.front(), c), find_suite(models.back(), c));
      r[c] = v ? json(*v / 100.0) : json(nullptr);
    }
    j["retention"] = r;  // B / A as a fraction, per suite
    j["retention_of"] = {models.back().model, models.front().model};
  }
  j["ci_method"] = "95% percentile bootstrap over problems (10000 resamples)";
  return j;
}

std::string scores_svg(const std::vector<ModelScores>& models, const std::string& title) {
  static const char* kColors[] = {"#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"};
  const auto cols = suite_columns(models);
  const int nm = static_cast<int>(models.size());
  const int bar_w = 28, gap = 30;
  const int group_w = std::max(110, nm * bar_w + gap);
  const int left = 70, top = 70, plot_h = 260;
  const int width = left + static_cast<int>(cols.size()) * group_w + 30;
  const int height = top + plot_h + 70;
  const auto y_of = [&](double frac) { return top + plot_h - frac * plot_h; };

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "font-family=\"DejaVu Sans, Arial, sans-serif\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{}\" y=\"24\" font-size=\"15\" font-weight=\"bold\">{}</text>\n",
      width, height, width, height, left, xml_escape(title));
  // Legend.
  for (int i = 0; i < nm; ++i) {
    const int x = left + i * 220;
    svg += fmt::format(
        "<rect x=\"{}\" y=\"36\" width=\"12\" height=\"12\" fill=\"{}\"/>"
        "<text x=\"{}\" y=\"46\" font-size=\"12\">{}</text>\n",
        x, kColors[i % 6], x + 16, xml_escape(models[static_cast<size_t>(i)].model));
  }
  // Grid and y axis.
  for (int p = 0; p <= 100; p += 20) {
    const double y = y_of(p / 100.0);
    svg += fmt::format(
        "<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#dddddd\"/>"
        "<text x=\"{}\" y=\"{:.1f}\" font-size=\"11\" text-anchor=\"end\">{}%</text>\n",
        left, y, width - 30, y, left - 6, y + 4, p);
  }
  svg += fmt::format("<text x=\"16\" y=\"{}\" font-size=\"12\" transform=\"rotate(-90 16 {})\" "
                     "text-anchor=\"middle\">pass@1 (95% CI)</text>\n",
                     top + plot_h / 2, top + plot_h / 2);
  // Bars with error bars.
  for (size_t c = 0; c < cols.size(); ++c) {
    const int gx = left + static_cast<int>(c) * group_w;
    const int bars_x = gx + (group_w - nm * bar_w) / 2;
    for (int i = 0; i < nm; ++i) {
      const SuiteScore* s = find_suite(models[static_cast<size_t>(i)], cols[c]);
      if (!s) continue;
      const int x = bars_x + i * bar_w;
      const double y = y_of(s->pass1);
      svg += fmt::format("<rect x=\"{}\" y=\"{:.1f}\" width=\"{}\" height=\"{:.1f}\" fill=\"{}\"/>\n", x + 2, y,
                         bar_w - 4, top + plot_h - y, kColors[i % 6]);
      const double cx = x + bar_w / 2.0, ylo = y_of(s->ci_low), yhi = y_of(s->ci_high);
      svg += fmt::format(
          "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"black\"/>"
          "<line x1=\"{3:.1f}\" y1=\"{1:.1f}\" x2=\"{4:.1f}\" y2=\"{1:.1f}\" stroke=\"black\"/>"
          "<line x1=\"{3:.1f}\" y1=\"{2:.1f}\" x2=\"{4:.1f}\" y2=\"{2:.1f}\" stroke=\"black\"/>\n",
          cx, ylo, yhi, cx - 5, cx + 5);
      // "100" rather than "100.0": neighbouring labels of full bars would touch.
      const std::string value = s->pass1 >= 0.9995 ? "100" : fmt::format("{:.1f}", 100 * s->pass1);
      svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"9\" text-anchor=\"middle\">{}</text>\n", cx,
                         std::min(y, yhi) - 4, value);
    }
    std::string label = cols[c];
    if (label.size() > 18) {
      label.resize(17);
      label.append("\u2026");  // …
    }
    svg += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>\n", gx + group_w / 2,
                       top + plot_h + 18, xml_escape(label));
  }
  svg += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n", left, top + plot_h,
                     width - 30, top + plot_h);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\" fill=\"#555555\">error bars: 95% percentile "
                     "bootstrap over problems</text>\n",
                     left, height - 14);
  svg += "</svg>\n";
  return svg;
}

std::vector<std::string> write_compare_report(const std::vector<ModelScores>& models, const std::string& dir,
                                              const std::string& title) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  FP4_CHECK(!ec, "{}: cannot create the report folder: {}", dir, ec.message());
  std::vector<std::string> written;
  const auto write = [&](const std::string& name, const std::string& text) {
    const std::string path = (std::filesystem::path(dir) / name).string();
    std::ofstream out(path, std::ios::binary);
    out << text;
    FP4_CHECK(out.good(), "{}: cannot write", path);
    written.push_back(path);
  };
  write("compare.md", fmt::format("# {}\n\n{}", title, scores_markdown(models)));
  write("compare.json", compare_json(models).dump(2) + "\n");
  const std::string svg_path = (std::filesystem::path(dir) / "compare.svg").string();
  write("compare.svg", scores_svg(models, title));
  const std::string rsvg = find_on_path("rsvg-convert");
  if (!rsvg.empty()) {
    const std::string png_path = (std::filesystem::path(dir) / "compare.png").string();
    std::vector<std::string> args = {rsvg, "--zoom", "2", "-o", png_path, svg_path};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid;
    if (posix_spawn(&pid, rsvg.c_str(), nullptr, nullptr, argv.data(), environ) == 0) {
      int status = 0;
      waitpid(pid, &status, 0);
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) written.push_back(png_path);
    }
  }
  return written;
}

}  // namespace fp4::eval
