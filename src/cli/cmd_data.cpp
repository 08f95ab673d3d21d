// muse data preview: renders task problems to files a person can look at (PNG + text, and an index.html).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "cli/commands.h"
#include "data/patches.h"
#include "data/task.h"
#include "tokenizer/tool_format.h"
#include "tools/registry.h"
#include "tools/trace_tools.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace muse::cli {
namespace {

// A copy of the image with a 2-pixel red outline around [x0, x1) x [y0, y1) (a zoom's box).
Image with_box(const Image& image, int x0, int y0, int x1, int y1) {
  Image out = image;
  auto paint = [&](int x, int y) {
    if (x < 0 || y < 0 || x >= out.width || y >= out.height) return;
    uint8_t* p = out.pixel(x, y);
    p[0] = 230, p[1] = 20, p[2] = 20;
  };
  for (int t = 0; t < 2; ++t) {
    for (int x = x0 - 2; x < x1 + 2; ++x) paint(x, y0 - 1 - t), paint(x, y1 + t);
    for (int y = y0 - 2; y < y1 + 2; ++y) paint(x0 - 1 - t, y), paint(x1 + t, y);
  }
  return out;
}

}  // namespace

namespace fs = std::filesystem;

namespace {

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

}  // namespace

void add_data_commands(CLI::App& app) {
  struct PreviewOpts {
    std::string task, out;
    int count = 8;
    int difficulty = 0;  // 0 = every difficulty in turn
    uint64_t seed = 1;
    std::string surface = "trained";
    VisionParams vision;
  };
  auto* data = app.add_subcommand("data", "Look at the task world's data");
  data->require_subcommand(1);
  auto o = std::make_shared<PreviewOpts>();
  auto* preview = data->add_subcommand(
      "preview", "Write sample problems of a task as PNG images (original and the model's first view) and text");
  preview->add_option("--task", o->task, "task name")->required();
  preview->add_option("-n", o->count, "problems")->capture_default_str()->check(CLI::Range(1, 1000));
  preview->add_option("--difficulty", o->difficulty, "difficulty (0 = cycle through all)")->capture_default_str();
  preview->add_option("--seed", o->seed)->capture_default_str();
  preview->add_option("--surface", o->surface,
                      "trained | heldout: the wordings and picture styles training sees, or the held-out ones")
      ->capture_default_str()
      ->check(CLI::IsMember({"trained", "heldout"}));
  preview->add_option("--patch-size", o->vision.patch_size, "the model's patch size (for the first-view image)")
      ->capture_default_str()->check(CLI::Range(1, 64));
  preview->add_option("--max-patches", o->vision.max_patches, "the model's patch budget per image view")
      ->capture_default_str()->check(CLI::Range(1, 4096));
  preview->add_option("--out", o->out, "output directory")->required();
  preview->callback([o] {
    const auto task = make_task(o->task);
    if (o->difficulty != 0) check_difficulty(*task, o->difficulty);
    fs::create_directories(o->out);
    Rng rng(o->seed);
    std::string html = "<!doctype html><meta charset=utf-8><title>" + task->name() +
                       "</title><style>body{font-family:sans-serif}img{image-rendering:pixelated;border:1px solid "
                       "#ccc;margin:4px}pre{background:#f4f4f4;padding:6px}</style><h1>" +
                       html_escape(task->name()) + "</h1><p>" + html_escape(task->description()) + "</p>";
    const int span = task->max_difficulty() - task->min_difficulty() + 1;
    for (int i = 0; i < o->count; ++i) {
      const int difficulty = o->difficulty != 0 ? o->difficulty : task->min_difficulty() + i % span;
      Example example = task->generate(rng, difficulty, parse_surface(o->surface));
      run_trace_tools(example, o->vision);
      const std::string stem = task->name() + "_" + std::to_string(i);
      std::string text = "task: " + task->name() + "  difficulty: " + std::to_string(difficulty) + "\n";
      html += "<h2>" + stem + " (difficulty " + std::to_string(difficulty) + ")</h2>";
      int image_index = 0;
      for (const auto& segment : example.prompt) {
        if (segment.kind == SegmentKind::Text) {
          text += "prompt: " + segment.text + "\n";
        } else if (segment.kind == SegmentKind::Table) {
          text += "table:\n" + to_csv(*segment.table);
        } else {
          const std::string name = stem + "_image" + std::to_string(image_index++);
          const Image& image = *segment.image;
          int w = 0, h = 0;
          view_size(image.width, image.height, o->vision, &w, &h);
          save_png(image, (fs::path(o->out) / (name + ".png")).string());
          save_png(resize_image(image, w, h), (fs::path(o->out) / (name + "_view.png")).string());
          text += "image: " + name + ".png (" + std::to_string(image.width) + "x" + std::to_string(image.height) +
                  "); the model's first view: " + name + "_view.png (" + std::to_string(w) + "x" +
                  std::to_string(h) + ")\n";
          // Shown 4x so a person can read it; the view at the same displayed size shows what detail survives.
          html += "<img src='" + name + ".png' width=" + std::to_string(image.width * 4) + "><img src='" + name +
                  "_view.png' width=" + std::to_string(image.width * 4) + " title='first view (" +
                  std::to_string(w) + "x" + std::to_string(h) + ")'>";
        }
      }
      // The trace with its tool calls in place; a zoom's box drawn on the original, and the crop it returned.
      std::string reasoning;
      size_t done = 0;
      for (size_t c = 0; c < example.tool_calls.size(); ++c) {
        const auto& call = example.tool_calls[c];
        reasoning += example.reasoning.substr(done, call.at - done) + "[tool call: " +
                     tool_call_body(call.name, call.arguments) + "] [result: ";
        done = call.at;
        for (const auto& part : call.result) {
          if (part.kind == SegmentKind::Text) {
            reasoning += part.text;
            continue;
          }
          const std::string name = stem + "_call" + std::to_string(c);
          save_png(*part.image, (fs::path(o->out) / (name + "_crop.png")).string());
          reasoning += "image " + name + "_crop.png (" + std::to_string(part.image->width) + "x" +
                       std::to_string(part.image->height) + ")";
          const auto context = tool_context_for(example.prompt, o->vision);
          const auto zoom = builtin_tools().call(call.name, call.arguments, context);
          if (zoom.ok() && zoom.details.contains("box") && !context.images.empty()) {
            const auto& b = zoom.details["box"];
            const Image boxed = with_box(*context.images[zoom.details["image"].get<size_t>()], b[0], b[1], b[2], b[3]);
            save_png(boxed, (fs::path(o->out) / (name + "_box.png")).string());
            reasoning += ", box drawn on " + name + "_box.png";
            html += "<img src='" + name + "_box.png' width=" + std::to_string(boxed.width * 2) + " title='zoom box'>" +
                    "<img src='" + name + "_crop.png' width=" + std::to_string(part.image->width * 2) +
                    " title='what the zoom returned'>";
          }
        }
        reasoning += "]";
      }
      reasoning += example.reasoning.substr(done);
      text += "reasoning: " + reasoning + "\nanswer: " + example.answer + "\n";
      write_file_atomic((fs::path(o->out) / (stem + ".txt")).string(), text);
      html += "<pre>" + html_escape(text) + "</pre>";
    }
    write_file_atomic((fs::path(o->out) / "index.html").string(), html);
    std::printf("wrote %d %s problems to %s (open %s/index.html)\n", o->count, task->name().c_str(), o->out.c_str(),
                o->out.c_str());
  });
}

}  // namespace muse::cli
