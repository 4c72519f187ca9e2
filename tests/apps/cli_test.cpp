// Runs the real `adascale` binary: exit codes, one-line errors, --json.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "apps/demo/demo_config.h"
#include "core/atomic_file.h"
#include "core/bundle_manifest.h"
#include "core/config/node.h"
#include "core/config/schema.h"
#include "core/device_profile.h"
#include "core/file_checksum.h"
#include "core/path_lock.h"
#include "runtime/bundle.h"
#include "tests/test_util.h"

namespace {

struct Result {
  int status = -1;
  std::string out;  ///< stdout
  std::string err;  ///< stderr
};

Result run_binary(const std::string& binary, const std::string& args) {
  // A file of its own: a TempDir here would share (and on exit remove) the
  // calling test's directory.
  char err_template[] = "/tmp/adascale_cli_stderr_XXXXXX";
  int fd = mkstemp(err_template);
  if (fd < 0) return Result{};
  close(fd);
  std::string err_file = err_template;
  std::string cmd = binary + " " + args + " 2>" + err_file;
  Result r;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), buf.size(), pipe)) r.out += buf.data();
  int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  FILE* e = fopen(err_file.c_str(), "r");
  while (e && fgets(buf.data(), buf.size(), e)) r.err += buf.data();
  if (e) fclose(e);
  std::remove(err_file.c_str());
  return r;
}

Result run(const std::string& args) {
  return run_binary(ADASCALE_BIN, args);
}

int count_lines(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

const char* kSmall =
    "--set dataset.synthetic.classes=3 --set dataset.synthetic.image_size=8 "
    "--set dataset.synthetic.train_per_class=20 "
    "--set dataset.synthetic.test_per_class=4 --set loader.batch_size=8 "
    "--set threads=1 --set log_level=warn";

TEST(Cli, VersionAndHelp) {
  Result v = run("--version");
  EXPECT_EQ(v.status, 0);
  EXPECT_NE(v.out.find("adascale 0."), std::string::npos);
  Result h = run("--help");
  EXPECT_EQ(h.status, 0);
  EXPECT_NE(h.out.find("data"), std::string::npos);
}

TEST(Cli, DataJsonIsOneObject) {
  Result r = run(std::string("data --json --batches 2 ") + kSmall);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(count_lines(r.out), 1);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["splits"][0]["name"], "official_train");
  EXPECT_EQ(j["splits"][0]["images"], 60);
  EXPECT_EQ(j["splits"][1]["name"], "train");
  EXPECT_EQ(j["splits"][3]["images"], 12);
  EXPECT_EQ(j["loader"]["batches"], 2);
  EXPECT_GT(j["loader"]["images_per_second"].get<double>(), 0.0);
}

TEST(Cli, DataTextReport) {
  Result r = run(std::string("data --batches 1 ") + kSmall);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("official_train        60  20 each"), std::string::npos);
  EXPECT_NE(r.out.find("class_2"), std::string::npos);
}

TEST(Cli, BadInputsAreOneLineAndNonZero) {
  for (const std::string args :
       {"data --set loader.batchsize=3", "data --set seed=abc",
        "data --config /nonexistent.yaml", "data --bogus-flag", "",
        "data --set dataset.format=cifar10 --set dataset.root=/nonexistent"}) {
    Result r = run(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_EQ(count_lines(r.err), 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find("error"), std::string::npos) << args << r.err;
    EXPECT_TRUE(r.out.empty()) << args;
  }
}

TEST(Cli, ErrorNamesKeyAndValue) {
  Result r = run("data --set loader.batch_size=0");
  EXPECT_NE(r.err.find("loader.batch_size: must be in [1, 65536], got '0'"),
            std::string::npos)
      << r.err;
}

std::string model_config(const std::string& name) {
  return std::string(ADASCALE_SOURCE_DIR) + "/configs/models/" + name;
}

TEST(CliInspect, EveryShippedModelConfigProfiles) {
  int models = 0;
  for (const auto& entry : std::filesystem::directory_iterator(
           std::string(ADASCALE_SOURCE_DIR) + "/configs/models")) {
    if (entry.path().extension() != ".yaml") continue;
    ++models;
    std::string path = entry.path().string();
    Result r = run("inspect --json --model " + path);
    ASSERT_EQ(r.status, 0) << path << ": " << r.err;
    EXPECT_EQ(count_lines(r.out), 1) << path;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_GE(j["variants"].get<int64_t>(), 1) << path;
    if (j.contains("exits")) {
      for (const auto& e : j["exits"]) {
        EXPECT_GT(e["params"].get<int64_t>(), 0) << path;
      }
    } else {
      EXPECT_GT(j["params"].get<int64_t>(), 0) << path;
      EXPECT_GT(j["macs"].get<int64_t>(), 0) << path;
    }
    Result text = run("inspect --model " + path);
    EXPECT_EQ(text.status, 0) << path << ": " << text.err;
    EXPECT_NE(text.out.find("params"), std::string::npos) << path;
  }
  EXPECT_GE(models, 9);
}

// The first default net (v1, kept for comparison): exits near the paper's
// Table III parameter counts (±30%), a variant space of the paper's order.
TEST(CliInspect, FirstElasticNetMatchesThePaperScale) {
  Result r =
      run("inspect --json --model " + model_config("adascale_cifar_v1.yaml"));
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  const double paper[] = {0.26e6, 1.36e6, 1.68e6, 2.50e6};
  ASSERT_EQ(j["exits"].size(), 4u);
  for (int e = 0; e < 4; ++e) {
    double params = j["exits"][e]["params"].get<double>();
    EXPECT_NEAR(params / paper[e], 1.0, 0.30) << "exit " << e + 1;
  }
  EXPECT_EQ(j["variants"].get<int64_t>(), 500);
  EXPECT_EQ(j["stem"]["channels"], 32);
  EXPECT_EQ(j["stages"][1]["exit_head"]["channels"], 512);
}

// The default net is elastic in cost: exit 1 is cheap next to the trunk,
// the exit heads are light (the paper's Fig. 7(c) overhead), and the
// variant space is of the paper's order (Table II: 0.48×10³).
TEST(CliInspect, DefaultElasticNetIsElasticInCost) {
  Result r =
      run("inspect --json --model " + model_config("adascale_cifar.yaml"));
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["exits"].size(), 4u);
  const double trunk = j["exits"][3]["macs"].get<double>();
  EXPECT_LE(j["exits"][0]["macs"].get<double>(), 0.25 * trunk);
  for (int e = 1; e < 4; ++e) {
    EXPECT_GT(j["exits"][e]["macs"].get<double>(),
              j["exits"][e - 1]["macs"].get<double>())
        << "exit " << e + 1;
  }
  // Fig. 7(c): heads 1..k-1 over the k-exit trunk, 2 and 4 branches.
  auto head = [&](int s) {
    return j["stages"][s]["exit_head"]["storage_fp32_bytes"].get<double>();
  };
  auto exit_storage = [&](int e) {
    return j["exits"][e]["storage_fp32_bytes"].get<double>();
  };
  EXPECT_LE(head(0) / exit_storage(1), 0.13);
  EXPECT_LE((head(0) + head(1) + head(2)) / exit_storage(3), 0.05);
  int64_t variants = j["variants"].get<int64_t>();
  EXPECT_GE(variants, 240);
  EXPECT_LE(variants, 960);
  EXPECT_EQ(j["exits"][3]["variant"], "e4:basic.basic.basic.basic");
  for (const auto& stage : j["stages"]) {
    EXPECT_GE(stage["candidates"].size(), 4u);
  }
  // Pool heads after the deep stages have the stage's channels.
  EXPECT_EQ(j["stages"][3]["exit_head"]["channels"],
            j["stages"][3]["out_channels"]);
}

TEST(CliInspect, SetOverridesAndBadInputs) {
  Result r = run("inspect --json --model " + model_config("resnet18.yaml") +
                 " --set model.classes=100");
  ASSERT_EQ(r.status, 0) << r.err;
  // 512 * 90 more classifier weights and 90 more biases than 10 classes.
  EXPECT_EQ(nlohmann::json::parse(r.out)["params"].get<int64_t>(),
            11173962 + 512 * 90 + 90);
  for (const std::string& args : std::vector<std::string>{
           "inspect --model /nonexistent.yaml",
           "inspect --model " + model_config("adascale_cifar.yaml") +
               " --set model.stages.0.out=3",
           "inspect --model " + model_config("adascale_cifar.yaml") +
               " --set model.classes=zero",
           "inspect"}) {
    Result bad = run(args);
    EXPECT_NE(bad.status, 0) << args;
    EXPECT_EQ(count_lines(bad.err), 1) << args << "\n" << bad.err;
    EXPECT_TRUE(bad.out.empty()) << args;
  }
}

// A two-stage net on 8×8 generated images: a whole run takes seconds.
const char* kTinyTrain = R"(
threads: 1
log_level: warn
dataset:
  format: synthetic
  validation_fraction: 0.2
  synthetic: {classes: 3, image_size: 8, train_per_class: 30,
              test_per_class: 10, seed: 2}
augment: {crop_padding: 0, horizontal_flip: false}
loader: {batch_size: 16, prefetch: 0}
model:
  name: tiny
  resolution: 8
  classes: 3
  stem: {channels: 8}
  stages:
    - {out_channels: 16, stride: 2, candidates: [{type: basic}, {type: dws}]}
    - {out_channels: 16, stride: 2, candidates: [{type: basic}, {type: fire}]}
train: {epochs: 2, progress: off, optimizer: {lr: 0.05}}
)";

TEST(CliTrain, TrainEvalProbeAndResume) {
  adascale::testing::TempDir dir;
  std::string config = dir.write("tiny.yaml", kTinyTrain);
  std::string out = dir.file("run");
  Result t = run("train --json --config " + config + " --run " + out);
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_EQ(count_lines(t.out), 1);
  auto j = nlohmann::json::parse(t.out);
  EXPECT_EQ(j["trunk"], nlohmann::json({"e1:basic", "e2:basic.basic"}));
  EXPECT_EQ(j["stages"].size(), 2u);
  EXPECT_EQ(j["test"].size(), 2u);
  EXPECT_GT(j["test"][1]["top1"].get<double>(), 0.5);  // chance 1/3
  std::ifstream summary(out + "/summary.json");
  ASSERT_TRUE(summary) << "a finished run writes summary.json";
  EXPECT_EQ(nlohmann::json::parse(summary)["trunk"], j["trunk"]);

  // The same --run again without --resume is refused; --resume of a
  // finished run trains nothing more.
  Result again = run("train --config " + config + " --run " + out);
  EXPECT_NE(again.status, 0);
  EXPECT_NE(again.err.find("already holds a run"), std::string::npos);
  Result resumed = run("train --json --resume --run " + out);
  ASSERT_EQ(resumed.status, 0) << resumed.err;
  // It reports the stages the first process ran, from the checkpoint.
  auto jr = nlohmann::json::parse(resumed.out);
  ASSERT_EQ(jr["stages"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(jr["stages"][i]["epochs"], j["stages"][i]["epochs"]);
    EXPECT_EQ(jr["stages"][i]["seconds"], j["stages"][i]["seconds"]);
    EXPECT_EQ(jr["stages"][i]["heads"], j["stages"][i]["heads"]);
  }

  Result e = run("eval --json --run " + out);
  ASSERT_EQ(e.status, 0) << e.err;
  auto je = nlohmann::json::parse(e.out);
  EXPECT_EQ(je["exits"].size(), 2u);
  EXPECT_EQ(je["variants"].size(), 6u);  // 2 + 2·2
  EXPECT_FALSE(je["early_exit"].empty());
  EXPECT_GT(je["exits"][1]["macs"].get<double>(), 0.0);

  Result p = run("probe --json --epochs 5 --run " + out);
  ASSERT_EQ(p.status, 0) << p.err;
  EXPECT_EQ(nlohmann::json::parse(p.out)["probes"].size(), 3u);
  EXPECT_TRUE(std::filesystem::exists(out + "/probes.csv"));
  EXPECT_TRUE(std::filesystem::exists(out + "/eval.json"));
}

TEST(CliTrain, MismatchAndBadInputsFailBeforeTraining) {
  adascale::testing::TempDir dir;
  std::string config = dir.write("tiny.yaml", kTinyTrain);
  struct Case {
    std::string args, needle;
  };
  for (const Case& c : std::vector<Case>{
           {"train --config " + config + " --set model.classes=10",
            "dataset has 3 classes, model.classes is 10"},
           {"train --config " + config + " --set model.resolution=16",
            "model.resolution is 16"},
           {"train --config " + config + " --set train.mode=thaw",
            "train.mode"},
           {"train --config " + config + " --set train.optimizer.kind=sgd",
            "train.optimizer.kind: unknown key"},
           {"train", "--config FILE is required"},
           {"eval --run " + dir.path(), "not a run directory"}}) {
    Result r = run(c.args + " --run " + dir.file("x"));
    if (c.args.rfind("eval", 0) == 0) r = run(c.args);
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_EQ(count_lines(r.err), 1) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << c.args << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir.file("x/checkpoints/last.pt")));
  }
}

// inspect --config profiles a run config's model; --set keys start at the
// run config's root, as they do for --model.
TEST(CliInspect, RunConfigModelWithOverrides) {
  adascale::testing::TempDir dir;
  std::string config = dir.write("tiny.yaml", kTinyTrain);
  Result r = run("inspect --json --config " + config);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["variants"], 6);  // 2 + 2·2
  Result wider = run("inspect --json --config " + config +
                     " --set model.stem.channels=16");
  ASSERT_EQ(wider.status, 0) << wider.err;
  EXPECT_GT(
      nlohmann::json::parse(wider.out)["exits"][0]["params"].get<int64_t>(),
      nlohmann::json::parse(r.out)["exits"][0]["params"].get<int64_t>());
  Result both = run("inspect --config " + config + " --model " +
                    model_config("resnet18.yaml"));
  EXPECT_NE(both.status, 0);
  EXPECT_EQ(count_lines(both.err), 1) << both.err;
}

// Your own images (dataset.format: image_folder): three classes of flat
// colours as 10x8 PNGs and JPEGs, brought to 8x8 by the centre crop.
const int kFolderColours[3][3] = {{200, 30, 40}, {20, 180, 60}, {40, 50, 220}};

void write_image_folder(const adascale::testing::TempDir& dir,
                        int train_per_class) {
  const char* names[] = {"blue_sky", "green_grass", "red_brick"};
  for (int c = 0; c < 3; ++c) {
    // names[] is sorted, so class c is label c.
    const int* rgb = kFolderColours[c];
    cv::Mat image(8, 10, CV_8UC3, cv::Scalar(rgb[2], rgb[1], rgb[0]));
    for (int k = 0; k < train_per_class + 2; ++k) {
      const bool train = k < train_per_class;
      const std::string folder =
          dir.file(std::string(train ? "train/" : "test/") + names[c]);
      std::filesystem::create_directories(folder);
      // PNG in train/ keeps the statistics exact; the test split mixes in
      // JPEG.
      const std::string ext = train || k % 2 == 0 ? ".png" : ".jpg";
      ASSERT_TRUE(
          cv::imwrite(folder + "/img" + std::to_string(k) + ext, image));
    }
  }
}

TEST(CliImageFolder, DataReportsMeanAndStd) {
  adascale::testing::TempDir dir;
  write_image_folder(dir, 4);
  const std::string args =
      "--set dataset.format=image_folder --set dataset.root=" + dir.path() +
      " --set dataset.image_folder.image_size=8 --set threads=1 "
      "--set log_level=warn --set loader.batch_size=4";
  Result r = run("data --json --batches 1 " + args);
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["format"], "image_folder");
  EXPECT_EQ(j["shape"], nlohmann::json({3, 8, 8}));
  EXPECT_EQ(j["classes"],
            nlohmann::json({"blue_sky", "green_grass", "red_brick"}));
  EXPECT_EQ(j["splits"][0]["images"], 12);
  EXPECT_EQ(j["splits"][3]["images"], 6);
  for (int ch = 0; ch < 3; ++ch) {
    // Every class has as many images: mean and std over the three colours.
    double mean = 0, sq = 0;
    for (const auto& rgb : kFolderColours) {
      mean += rgb[ch] / 3.0;
      sq += rgb[ch] * rgb[ch] / 3.0;
    }
    const double std = std::sqrt(sq - mean * mean);
    EXPECT_NEAR(j["channel_mean_255"][ch].get<double>(), mean, 1e-6);
    EXPECT_NEAR(j["channel_std_255"][ch].get<double>(), std, 1e-6);
    EXPECT_NEAR(j["normalization"]["mean"][ch].get<double>(), mean / 255, 1e-4);
    EXPECT_NEAR(j["normalization"]["std"][ch].get<double>(), std / 255, 1e-4);
  }
  Result text = run("data --batches 1 " + args);
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_NE(text.out.find("for the config: dataset: {mean: [0."),
            std::string::npos)
      << text.out;
}

TEST(CliImageFolder, TrainsOneEpochAndNamesBadImages) {
  adascale::testing::TempDir dir;
  write_image_folder(dir, 12);
  std::string yaml = kTinyTrain;
  const std::string synthetic =
      yaml.substr(yaml.find("  format: synthetic"),
                  yaml.find("augment:") - yaml.find("  format: synthetic"));
  yaml.replace(yaml.find(synthetic), synthetic.size(),
               "  format: image_folder\n  root: " + dir.path() +
                   "\n  validation_fraction: 0.2\n");
  yaml.replace(yaml.find("epochs: 2"), 9, "epochs: 1");
  const std::string config = dir.write("folder.yaml", yaml);
  Result t =
      run("train --json --config " + config + " --run " + dir.file("run"));
  ASSERT_EQ(t.status, 0) << t.err;
  auto j = nlohmann::json::parse(t.out);
  EXPECT_EQ(j["stages"].size(), 2u);
  ASSERT_EQ(j["test"].size(), 2u);
  EXPECT_EQ(j["test"][1]["samples"], 6);
  // The resolved config records the side the images were brought to.
  EXPECT_NE(adascale::core::read_file(dir.file("run/config.yaml"))
                .find("image_size: 8"),
            std::string::npos);

  const std::string bad = dir.write("train/green_grass/img9.png", "garbage");
  Result b = run("train --config " + config + " --run " + dir.file("run2"));
  EXPECT_NE(b.status, 0);
  EXPECT_EQ(count_lines(b.err), 1) << b.err;
  EXPECT_NE(b.err.find(bad + ": cannot decode image"), std::string::npos)
      << b.err;
  std::filesystem::remove(bad);
  std::filesystem::create_directories(dir.file("train/yellow"));
  Result e = run("data --config " + config);
  EXPECT_NE(e.status, 0);
  EXPECT_EQ(count_lines(e.err), 1) << e.err;
  EXPECT_NE(
      e.err.find(dir.file("train/yellow") + ": class 'yellow' has no images"),
      std::string::npos)
      << e.err;
}

TEST(CliBench, TrainReportsImagesPerSecond) {
  Result r =
      run("bench train --json --model mobilenet_v3_small --batch 4 "
          "--steps 2 --set threads=1");
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["model"], "mobilenet_v3_small");
  EXPECT_GT(j["images_per_second"].get<double>(), 0.0);
  Result bad = run("bench train --model resnet99");
  EXPECT_NE(bad.status, 0);
  EXPECT_EQ(count_lines(bad.err), 1) << bad.err;
}

std::string calibrate_args(const std::string& out,
                           const std::string& base = "") {
  return "calibrate --quick --set threads=1 --out " + out + " --base " +
         (base.empty() ? std::string(ADASCALE_SOURCE_DIR) +
                             "/configs/devices/generic_x86.yaml"
                       : base);
}

TEST(CliCalibrate, QuickJsonWritesAProfileThatLoads) {
  adascale::testing::TempDir dir;
  std::string out = dir.file("x.yaml");
  Result r = run(calibrate_args(out) + " --json --set log_level=warn");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(count_lines(r.out), 1);
  auto j = nlohmann::json::parse(r.out);
  auto profile = adascale::core::load_device_profile(out);
  EXPECT_EQ(profile.name, "x");
  EXPECT_EQ(j["profile"]["name"], "x");
  EXPECT_EQ(j["profile"]["cpu"]["peak_gmacs"].get<double>(),
            profile.cpu.peak_gmacs);
  EXPECT_EQ(j["profile"]["memory"]["caches"].size(),
            profile.memory.caches.size());
  EXPECT_EQ(j["threads"], 1);
  ASSERT_GE(j["latency_curve"].size(), 2u);
  EXPECT_EQ(j["latency_curve"][0]["working_set_bytes"], 4096);
  EXPECT_GT(j["latency_curve"][0]["latency_ns"].get<double>(), 0.0);
  EXPECT_NE(profile.source.find("generic_x86.yaml"), std::string::npos);
}

TEST(CliCalibrate, QuickTextSummaryAndProgress) {
  adascale::testing::TempDir dir;
  std::string out = dir.file("x.yaml");
  Result r = run(calibrate_args(out) + " --name my_box");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("device profile my_box"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("written to " + out), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("l1d"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("calibrate: fp32 GEMM"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("calibrate: pointer chase"), std::string::npos);
  EXPECT_EQ(adascale::core::load_device_profile(out).name, "my_box");
}

// One process per case, each paying LibTorch's start-up: two tests keep
// each under the 5 s budget.
void expect_one_line_errors(
    const std::vector<std::pair<std::string, std::string>>& cases) {
  for (const auto& [args, needle] : cases) {
    Result r = run(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_EQ(count_lines(r.err), 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << args << r.err;
    EXPECT_TRUE(r.out.empty()) << args;
  }
}

// Old spellings that scripts may still use fail at once with one line
// naming the new one; options that do not apply say why. None of these
// reaches the files it names.
TEST(CliConventions, OldSpellingsNameTheNewOnes) {
  adascale::testing::TempDir dir;
  std::string config = dir.write("tiny.yaml", kTinyTrain);
  expect_one_line_errors({
      {"train --config " + config + " --out " + dir.file("r"),
       "--out " + dir.file("r") + " is now --run " + dir.file("r")},
      {"tables --run " + dir.file("r") + " --device x.yaml",
       "--device x.yaml is now --device-profile x.yaml"},
      {"search --run " + dir.file("r") + " --latency-ms 5 --device pi4",
       "--device pi4 is now --table-device pi4"},
      {"eval --run " + dir.file("r") + " --config " + config,
       "eval: --config does not apply: it reads the run's own config.yaml"},
      {"search --run " + dir.file("r") + " --latency-ms 5 --set threads=1",
       "search: --set does not apply"},
      {"inspect --model " + model_config("resnet18.yaml") +
           " --set classes=100",
       "--set model.classes=100"},
  });
  EXPECT_FALSE(std::filesystem::exists(dir.file("r")));
}

TEST(CliCalibrate, BadOutOrNameFailsBeforeMeasuring) {
  adascale::testing::TempDir dir;
  expect_one_line_errors(
      {{calibrate_args("/nonexistent/dir/x.yaml"),
        "--out /nonexistent/dir/x.yaml: directory /nonexistent/dir does not "
        "exist"},
       {calibrate_args(dir.file("Bad-Name.yaml")), "profile name 'Bad-Name'"},
       {calibrate_args(dir.file("x.yaml")) + " --name 'has space'",
        "profile name 'has space'"}});
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.yaml")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("Bad-Name.yaml")));
}

TEST(CliCalibrate, BadBaseFailsBeforeMeasuring) {
  adascale::testing::TempDir dir;
  std::string invalid = dir.write("invalid.yaml", "name: invalid\n");
  expect_one_line_errors(
      {{calibrate_args(dir.file("x.yaml"), "/nonexistent.yaml"),
        "base profile /nonexistent.yaml not found"},
       {calibrate_args(dir.file("x.yaml"), invalid),
        invalid + ": cpu.cores: missing"},
       {"calibrate --quick", "--out is required"}});
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.yaml")));
}

}  // namespace

// A device profile for the tables tests; the measured device of --measure.
const char* kTestDevice = R"(
name: test_machine
description: profile for the CLI tests
source: made up
cpu: {cores: 2, max_clock_mhz: 2000, min_clock_mhz: 2000, peak_gmacs: 50,
      active_power_w: 20, idle_power_w: 5}
memory:
  size_mib: 8192
  clock_mhz: 1600
  bandwidth_gbs: 10
  latency_ns: 90
  active_power_w: 2
  caches:
    - {name: l1d, size_kib: 32, latency_ns: 1, bandwidth_gbs: 100}
    - {name: l2, size_kib: 512, latency_ns: 4, bandwidth_gbs: 50}
)";

TEST(CliTables, TablesThenSearchOnATrainedRun) {
  adascale::testing::TempDir dir;
  std::string config = dir.write("tiny.yaml", kTinyTrain);
  std::string device = dir.write("test_machine.yaml", kTestDevice);
  std::string out = dir.file("run");
  ASSERT_EQ(run("train --config " + config + " --run " + out).status, 0);

  // Before any tables: search names the missing file.
  Result none = run("search --run " + out + " --latency-ms 5");
  EXPECT_NE(none.status, 0);
  EXPECT_NE(none.err.find("tables.h5: no such file"), std::string::npos)
      << none.err;

  // --assume-load 0: a measurement this short reads /proc/stat over a few
  // ticks, too coarse for a load figure.
  Result t =
      run("tables --json --measure --assume-load 0 --batch 2 "
          "--repeats 3 --run " +
          out + " --device-profile " + device + " --device-profile " +
          ADASCALE_SOURCE_DIR + "/configs/devices/raspberry_pi_4b.yaml");
  ASSERT_EQ(t.status, 0) << t.err;
  ASSERT_EQ(count_lines(t.out), 1);
  auto j = nlohmann::json::parse(t.out);
  EXPECT_EQ(j["variants"], 6);
  EXPECT_EQ(j["validation_cached"], false);
  ASSERT_EQ(j["latency_fits"].size(), 2u);  // batch 1 and 2, this machine
  EXPECT_EQ(j["latency_fits"][0]["mode"], "fit");
  std::ifstream csv(out + "/tables.csv");
  std::string line;
  int lines = 0, measured = 0;
  while (std::getline(csv, line)) {
    ++lines;
    // The measured latency is the last column; Raspberry Pi rows have none.
    if (line.find("test_machine") != std::string::npos && line.back() != ',')
      ++measured;
  }
  EXPECT_EQ(lines, 1 + 6 * 2 * 2);  // header + variants × devices × batches
  EXPECT_EQ(measured, 12);

  // Measured again "under load": the load correction is fitted instead of
  // the model, scored on the variants it did not see, and logged.
  Result probe =
      run("tables --json --measure --batch 2 --repeats 3 "
          "--assume-load 0.6 --run " +
          out + " --device-profile " + device);
  ASSERT_EQ(probe.status, 0) << probe.err;
  auto jp = nlohmann::json::parse(probe.out);
  EXPECT_EQ(jp["latency_fits"][0]["mode"], "load_correction");
  EXPECT_EQ(jp["latency_fits"][0]["tested_on"], 4);  // 6 minus every fifth
  EXPECT_TRUE(std::filesystem::exists(out + "/load_probe_test_machine_b1.csv"));
  Result bad_load = run("tables --measure --assume-load 1.5 --run " + out);
  EXPECT_NE(bad_load.status, 0);
  EXPECT_NE(bad_load.err.find("--assume-load"), std::string::npos)
      << bad_load.err;

  // Again: validation top-1 comes from the file.
  Result again = run("tables --json --batch 2 --run " + out +
                     " --device-profile " + device);
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out)["validation_cached"], true);

  Result s = run("search --json --run " + out + " --latency-ms 1000");
  ASSERT_EQ(s.status, 0) << s.err;
  auto js = nlohmann::json::parse(s.out);
  EXPECT_EQ(js["device"], "test_machine");
  EXPECT_TRUE(js["feasible"].get<bool>());
  EXPECT_EQ(js["variants"], 6);
  double best = js["best"]["validation_top1"].get<double>();
  // With no binding budget the answer is the most accurate variant.
  // Held in a local: a range-for over parse(...)["variants"] would walk a
  // member of a temporary already destroyed (ASan: heap-use-after-free).
  const auto scored = nlohmann::json::parse(
      run("eval --json --split validation --run " + out).out);
  for (const auto& e : scored["variants"])
    EXPECT_LE(e["top1"].get<double>(), best + 1e-9);

  Result miss = run("search --run " + out + " --latency-ms 0.000001");
  ASSERT_EQ(miss.status, 0) << miss.err;
  EXPECT_NE(miss.out.find("no variant meets the budget; nearest miss"),
            std::string::npos)
      << miss.out;

  // Bad inputs: one line on stderr, non-zero exit.
  for (const auto& [args, needle] :
       std::vector<std::pair<std::string, std::string>>{
           {"search --run " + out + " --latency-ms -1", "latency budget"},
           {"search --run " + out + " --latency-ms nan", "latency budget"},
           {"search --run " + out + " --latency-ms 5 --energy-mj -2",
            "energy budget"},
           {"search --run " + out + " --latency-ms 5 --load 2", "--load"},
           {"search --run " + out + " --latency-ms 5 --table-device pixel9",
            "pixel9"},
           {"search --run " + out + " --latency-ms abc", "latency-ms"},
           {"tables --run " + out + " --device-profile " +
                dir.write("bad.yaml", "name: x\n"),
            "bad.yaml"},
           {"tables --run " + dir.file("nothing"), "nothing"},
       }) {
    Result r = run(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_EQ(count_lines(r.err), 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << args << "\n" << r.err;
  }

  // A foreign HDF5 file and a file that is not HDF5 at all. Without the
  // checksum sidecar (as an older build wrote them), the format check is
  // what refuses them; with it, the checksum (CliReliability tests).
  std::filesystem::remove(out + "/tables.h5.sha256");
  std::filesystem::copy_file(out + "/metrics.h5", out + "/tables.h5",
                             std::filesystem::copy_options::overwrite_existing);
  Result foreign = run("search --run " + out + " --latency-ms 5");
  EXPECT_NE(foreign.status, 0);
  EXPECT_NE(foreign.err.find("not an AdaScale tables file"), std::string::npos)
      << foreign.err;
  // Checksummed, so the one line is HDF5's refusal (no missing-sidecar
  // warning before it).
  dir.write("run/tables.h5", "garbage");
  adascale::core::write_checksum_sidecar(out + "/tables.h5");
  Result junk = run("search --run " + out + " --latency-ms 5");
  EXPECT_NE(junk.status, 0);
  EXPECT_EQ(count_lines(junk.err), 1) << junk.err;
}

namespace {

// A trained tiny run in `dir`/run; with `tables`, also its tables.h5.
std::string trained_run(const adascale::testing::TempDir& dir, bool tables) {
  std::string config = dir.write("tiny.yaml", kTinyTrain);
  std::string out = dir.file("run");
  Result t = run("train --config " + config + " --run " + out);
  EXPECT_EQ(t.status, 0) << t.err;
  if (tables) {
    std::string device = dir.write("test_machine.yaml", kTestDevice);
    Result r =
        run("tables --batch 2 --run " + out + " --device-profile " + device);
    EXPECT_EQ(r.status, 0) << r.err;
  }
  return out;
}

void flip_middle_byte(const std::string& path) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(0, std::ios::end);
  const auto middle = f.tellg() / 2;
  f.seekg(middle);
  char c = 0;
  f.get(c);
  f.seekp(middle);
  f.put(char(c ^ 0x10));
}

TEST(CliExport, BundleExportInspectAndOverwrite) {
  adascale::testing::TempDir dir;
  std::string out = trained_run(dir, false);
  std::string bundle = dir.file("tiny.adascale");

  // No tables yet: the error says how to make them.
  Result none = run("export --run " + out + " --out " + bundle);
  EXPECT_NE(none.status, 0);
  EXPECT_EQ(count_lines(none.err), 1) << none.err;
  EXPECT_NE(none.err.find("adascale tables --run " + out), std::string::npos)
      << none.err;
  EXPECT_FALSE(std::filesystem::exists(bundle));

  std::string device = dir.write("test_machine.yaml", kTestDevice);
  ASSERT_EQ(run("tables --batch 2 --run " + out + " --device-profile " + device)
                .status,
            0);
  Result e = run("export --json --run " + out + " --out " + bundle);
  ASSERT_EQ(e.status, 0) << e.err;
  ASSERT_EQ(count_lines(e.out), 1);
  auto je = nlohmann::json::parse(e.out);
  EXPECT_EQ(je["variants"], 6);
  EXPECT_EQ(je["format_version"], 1);
  EXPECT_EQ(je["classes"], nlohmann::json({"class_0", "class_1", "class_2"}));
  EXPECT_EQ(je["files"].size(), 3u);
  EXPECT_EQ(std::system(("cd '" + bundle +
                         "' && sha256sum --quiet -c SHA256SUMS >/dev/null")
                            .c_str()),
            0);

  Result text = run("inspect --bundle " + bundle);
  ASSERT_EQ(text.status, 0) << text.err;
  for (const std::string needle :
       {"verified (format version 1, 3 files, SHA-256 OK)", "model tiny",
        "class_0, class_1, class_2", "trunk: basic.basic (2 of 2 stages",
        "6 variants", "weights.pt", "top variants"})
    EXPECT_NE(text.out.find(needle), std::string::npos) << needle << text.out;
  Result js = run("inspect --json --bundle " + bundle);
  ASSERT_EQ(js.status, 0) << js.err;
  ASSERT_EQ(count_lines(js.out), 1);
  auto ji = nlohmann::json::parse(js.out);
  EXPECT_TRUE(ji["verified"].get<bool>());
  EXPECT_EQ(ji["variants"], 6);
  EXPECT_EQ(ji["input"], nlohmann::json({1, 3, 8, 8}));
  EXPECT_EQ(ji["trunk"], nlohmann::json({"basic", "basic"}));
  EXPECT_EQ(ji["normalization"]["mean"].size(), 3u);
  ASSERT_EQ(ji["top_variants"].size(), 5u);
  EXPECT_GE(ji["top_variants"][0]["validation_top1"].get<double>(),
            ji["top_variants"][4]["validation_top1"].get<double>());
  ASSERT_EQ(ji["files"].size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(ji["files"][i]["ok"].get<bool>());
    EXPECT_EQ(ji["files"][i]["sha256"], je["files"][i]["sha256"]);
    EXPECT_EQ(ji["files"][i]["bytes"], je["files"][i]["bytes"]);
  }

  // Again: refused without --force, replaced with it; --force never
  // replaces something that is not a bundle.
  Result again = run("export --run " + out + " --out " + bundle);
  EXPECT_NE(again.status, 0);
  EXPECT_EQ(count_lines(again.err), 1) << again.err;
  EXPECT_NE(again.err.find("already exists; pass --force"), std::string::npos)
      << again.err;
  Result forced = run("export --force --run " + out + " --out " + bundle);
  EXPECT_EQ(forced.status, 0) << forced.err;
  Result not_bundle = run("export --force --run " + out + " --out " + out);
  EXPECT_NE(not_bundle.status, 0);
  EXPECT_NE(not_bundle.err.find("is not an AdaScale bundle"), std::string::npos)
      << not_bundle.err;
  EXPECT_TRUE(std::filesystem::exists(out + "/checkpoints/last.pt"));

  // A damaged or foreign bundle: one line naming the file.
  flip_middle_byte(bundle + "/weights.pt");
  Result bad = run("inspect --bundle " + bundle);
  EXPECT_NE(bad.status, 0);
  EXPECT_EQ(count_lines(bad.err), 1) << bad.err;
  EXPECT_NE(bad.err.find("weights.pt: SHA-256 mismatch"), std::string::npos)
      << bad.err;
  EXPECT_TRUE(bad.out.empty());
  Result foreign = run("inspect --bundle " + out);
  EXPECT_NE(foreign.status, 0);
  EXPECT_NE(foreign.err.find("not an AdaScale bundle (no manifest.yaml)"),
            std::string::npos)
      << foreign.err;
  Result both = run("inspect --bundle " + bundle + " --model " +
                    model_config("resnet18.yaml"));
  EXPECT_NE(both.status, 0);
  EXPECT_EQ(count_lines(both.err), 1) << both.err;
}

bool python_has_torch() {
  return std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
}

// Loads the module in Python, runs it on the input in `io`, prints the
// largest difference from the expected output and the module's metadata.
const char* kCompareScript = R"(
import json, sys, torch
pt, io = sys.argv[1], json.load(open(sys.argv[2]))
extra = {"adascale.json": ""}
m = torch.jit.load(pt, _extra_files=extra)
x = torch.tensor(io["x"], dtype=torch.float32).reshape(io["x_shape"])
want = torch.tensor(io["y"], dtype=torch.float32).reshape(io["y_shape"])
with torch.no_grad():
    got = m(x)
print(json.dumps({"max_abs_diff": float((got - want).abs().max()),
                  "shape": list(got.shape),
                  "meta": json.loads(extra["adascale.json"])}))
)";

TEST(CliExport, TorchScriptRunsInPythonWithTheSameOutputs) {
  // scripts/setup.sh installs python3-torch: its absence is a broken
  // install, not a reason to skip.
  ASSERT_TRUE(python_has_torch())
      << "/usr/bin/python3 cannot import torch: run scripts/setup.sh";
  adascale::testing::TempDir dir;
  std::string out = trained_run(dir, true);
  std::string pt = dir.file("v.pt");
  Result e = run("export --json --run " + out +
                 " --torchscript e2:basic.fire --out " + pt);
  ASSERT_EQ(e.status, 0) << e.err;
  EXPECT_EQ(nlohmann::json::parse(e.out)["variant"], "e2:basic.fire");
  Result again =
      run("export --run " + out + " --torchscript e2:basic.fire --out " + pt);
  EXPECT_NE(again.status, 0);
  EXPECT_NE(again.err.find("pass --force"), std::string::npos) << again.err;

  // The C++ reference: the same run's net, through a bundle (whose logits
  // are bit-identical to the run's; see tests/runtime/bundle_test.cpp).
  std::string bundle = dir.file("tiny.adascale");
  ASSERT_EQ(run("export --run " + out + " --out " + bundle).status, 0);
  auto b = adascale::runtime::load_bundle(bundle);
  const auto variant = b.net->variants().parse("e2:basic.fire");
  torch::manual_seed(7);
  torch::Tensor x = torch::randn({2, 3, 8, 8});  // traced at batch 1
  torch::Tensor y;
  {
    torch::NoGradGuard no_grad;
    y = b.net->forward(x, variant);
  }
  nlohmann::json io;
  io["x"] =
      std::vector<float>(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
  io["x_shape"] = x.sizes().vec();
  auto yc = y.contiguous();
  io["y"] = std::vector<float>(yc.data_ptr<float>(),
                               yc.data_ptr<float>() + yc.numel());
  io["y_shape"] = y.sizes().vec();
  std::string io_path = dir.write("io.json", io.dump());
  std::string script = dir.write("compare.py", kCompareScript);
  Result py{};
  {
    std::string cmd = "/usr/bin/python3 " + script + " " + pt + " " + io_path;
    FILE* pipe = popen(cmd.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::array<char, 4096> buf{};
    while (fgets(buf.data(), buf.size(), pipe)) py.out += buf.data();
    int raw = pclose(pipe);
    py.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  }
  ASSERT_EQ(py.status, 0) << py.out;
  auto jp = nlohmann::json::parse(py.out);
  EXPECT_LE(jp["max_abs_diff"].get<double>(), 1e-5);
  EXPECT_EQ(jp["shape"], nlohmann::json({2, 3}));
  EXPECT_EQ(jp["meta"]["variant"], "e2:basic.fire");
  EXPECT_EQ(jp["meta"]["normalization"]["mean"],
            nlohmann::json(b.normalization.mean));

  // A variant that does not exist, or whose exit was not trained.
  for (const auto& [variant_id, needle] :
       std::vector<std::pair<std::string, std::string>>{
           {"e2:basic.foo", "candidates: basic, fire"},
           {"e3:basic.fire.basic", "exit"},
           {"nonsense", "nonsense"}}) {
    Result r = run("export --run " + out + " --torchscript " + variant_id +
                   " --out " + dir.file("x.pt"));
    EXPECT_NE(r.status, 0) << variant_id;
    EXPECT_EQ(count_lines(r.err), 1) << variant_id << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << variant_id << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir.file("x.pt")));
  }
}

}  // namespace

namespace {

// One second idle, then one second with half the machine busy.
const char* kDemoTrace = R"(
name: step_up
kind: steps
steps:
  - {duration_s: 1, cpu: 0.0, memory_mb: 0}
  - {duration_s: 1, cpu: 0.5, memory_mb: 16}
)";

Result demo(const std::string& args) {
  return run_binary(ADASCALE_DEMO_BIN, args);
}

}  // namespace

TEST(CliDemo, RunsBothPhasesUnderATraceAndWritesItsOutputs) {
  adascale::testing::TempDir dir;
  std::string run_dir = trained_run(dir, true);
  std::string bundle = dir.file("tiny.adascale");
  ASSERT_EQ(run("export --run " + run_dir + " --out " + bundle).status, 0);
  std::string trace = dir.write("step_up.yaml", kDemoTrace);
  std::string out = dir.file("demo");
  // Part in a config file, part in --set; --set wins and starts at the same
  // root.
  std::string config = dir.write(
      "demo.yaml",
      "duration_s: 2\nwarmup_s: 0.2\nruntime: {policy: {budget_ms: 9}, "
      "intra_op_threads: 1}\n");
  Result r = demo("--bundle " + bundle + " --config " + config +
                  " --set runtime.policy.budget_ms=50 --set trace=" + trace +
                  " --set runtime.min_accuracy=0 --out " + out);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("[adaptive] t="), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[  static] t="), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("adaptive vs static"), std::string::npos) << r.out;

  std::ifstream csv(out + "/timeline.csv");
  std::string header;
  std::getline(csv, header);
  EXPECT_EQ(header.rfind("phase,t_s,load,forecast,variant", 0), 0u) << header;
  int adaptive = 0, fixed = 0;
  for (std::string line; std::getline(csv, line);) {
    adaptive += line.rfind("adaptive,", 0) == 0;
    fixed += line.rfind("static,", 0) == 0;
  }
  EXPECT_GE(adaptive, 2);
  EXPECT_GE(fixed, 2);

  auto summary =
      nlohmann::json::parse(adascale::core::read_file(out + "/summary.json"));
  for (const char* phase : {"adaptive", "static"}) {
    const auto& p = summary.at("phases").at(phase);
    EXPECT_GT(p.at("inferences").get<int64_t>(), 0) << phase;
    EXPECT_GT(p.at("latency_mean_ms").get<double>(), 0) << phase;
    EXPECT_GE(p.at("accuracy").get<double>(), 0) << phase;
    // One forecast per monitor sample, from AR or the last value.
    const auto& used = p.at("forecasts_used");
    EXPECT_GE(used.at("ar").get<int64_t>() + used.at("naive").get<int64_t>(), 1)
        << phase;
    EXPECT_TRUE(p.contains("used_forecast_mae")) << phase;
  }
  EXPECT_EQ(summary.at("forecaster"), "best");
  EXPECT_EQ(summary.at("budget_ms").get<double>(), 50);
  EXPECT_EQ(summary.at("threads"), 1);
  EXPECT_TRUE(summary.at("backend") == "xnnpack" ||
              summary.at("backend") == "onednn")
      << summary.at("backend");
  EXPECT_EQ(summary.at("min_accuracy").get<double>(), 0);
  EXPECT_TRUE(summary.contains("adaptive_vs_static"));
  EXPECT_GT(std::filesystem::file_size(out + "/timeline.png"), 1000u);

  // The resolved config runs the same again; --json prints the summary as
  // one JSON object and nothing else on stdout.
  const std::string resolved = adascale::core::read_file(out + "/config.yaml");
  EXPECT_NE(resolved.find("budget_ms: 50"), std::string::npos) << resolved;
  std::string again = dir.file("again");
  Result j = demo("--bundle " + bundle + " --config " + out +
                  "/config.yaml --set mode=adaptive --set duration_s=1 " +
                  "--json --out " + again);
  ASSERT_EQ(j.status, 0) << j.err;
  ASSERT_EQ(count_lines(j.out), 1) << j.out;
  auto js = nlohmann::json::parse(j.out);
  EXPECT_EQ(js, nlohmann::json::parse(
                    adascale::core::read_file(again + "/summary.json")));
  EXPECT_EQ(js.at("budget_ms").get<double>(), 50);
  EXPECT_EQ(js.at("trace"), trace);
  EXPECT_TRUE(js.at("phases").contains("adaptive"));
  EXPECT_FALSE(js.at("phases").contains("static"));
}

// The shipped default config is the demo's defaults, key for key.
TEST(CliDemo, DefaultConfigFileHoldsTheDefaults) {
  using adascale::config::Reader;
  using adascale::config::Writer;
  const auto file = Reader::read_struct<adascale::demo::DemoConfig>(
      adascale::config::load_file(std::string(ADASCALE_SOURCE_DIR) +
                                  "/configs/demo/default.yaml"));
  auto yaml = [](const adascale::demo::DemoConfig& c) {
    return adascale::config::to_yaml(Writer::write_struct(c));
  };
  EXPECT_EQ(yaml(file), yaml(adascale::demo::DemoConfig{}));
}

namespace {

struct DemoCase {
  std::string args, expect;
};

// Each case fails on the command line or in the config, before the bundle
// (which does not exist) is read.
void expect_demo_refuses(const std::vector<DemoCase>& cases) {
  for (const DemoCase& c : cases) {
    Result r = demo("--bundle /nonexistent.adascale " + c.args);
    EXPECT_EQ(r.status, 1) << c.args << "\n" << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << "\n"
                                                       << r.err;
    EXPECT_TRUE(r.out.empty()) << c.args;
  }
}

}  // namespace

// The options the demo had before its config name the key each became.
TEST(CliDemo, OldOptionsNameTheirKey) {
  expect_demo_refuses({
      {"--budget-ms 10",
       "--budget-ms 10 is now --set runtime.policy.budget_ms=10"},
      {"--trace t.yaml", "--set trace=t.yaml"},
      {"--duration 5", "--set duration_s=5"},
      {"--threads 2", "--set runtime.intra_op_threads=N"},
      {"--adapt-threads false", "--set runtime.threads.enabled=false"},
      {"--device pi4", "--set runtime.tables_device=pi4"},
  });
}

// Bad values are refused by the schema, naming the key.
TEST(CliDemo, BadValuesNameTheKey) {
  expect_demo_refuses({
      {"--set runtime.policy.budget_ms=-1",
       "runtime.policy.budget_ms: must be > 0"},
      {"--set runtime.policy.budget_ms=inf", "runtime.policy.budget_ms"},
      {"--set runtime.forecast.window=4", "runtime.forecast.window"},
      {"--set engine.calibration_images=0", "engine.calibration_images"},
      {"--set engine.backend=mkl", "engine.backend"},
      {"--set runtime.threads.enabled=maybe",
       "runtime.threads.enabled: expected true or false"},
      {"--set budget_ms=5", "budget_ms: unknown key"},
  });
}

TEST(CliDemo, BadInputsAreOneLineAndNonZero) {
  adascale::testing::TempDir dir;
  std::string run_dir = trained_run(dir, true);
  std::string bundle = dir.file("tiny.adascale");
  ASSERT_EQ(run("export --run " + run_dir + " --out " + bundle).status, 0);
  const std::string base = "--bundle " + bundle + " --set duration_s=1 ";
  struct Case {
    std::string args, expect;
  };
  const Case cases[] = {
      {"--bundle " + dir.file("none.adascale") +
           " --set runtime.policy.budget_ms=5",
       "none.adascale"},
      {base + "--set runtime.policy.budget_ms=-1", "runtime.policy.budget_ms"},
      {base + "--set trace=" + dir.file("missing.yaml"), "missing.yaml"},
      {base + "--set runtime.min_accuracy=0 --set static_variant=e9:nope",
       "e9"},
      {base + "--set runtime.min_accuracy=1.5", "runtime.min_accuracy"},
      {base + "--set mode=sometimes", "mode"},
      {base + "--set runtime.forecast.model=mean", "runtime.forecast.model"},
  };
  for (const Case& c : cases) {
    Result r = demo(c.args);
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_EQ(count_lines(r.err), 1) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << "\n"
                                                       << r.err;
  }
}

// ---- the embedding example (examples/embed_runtime.cpp, docs/runtime.md) ----

namespace {

Result embed(const std::string& args) {
  return run_binary(ADASCALE_EMBED_BIN, args);
}

}  // namespace

TEST(CliEmbedExample, RunsTheTenLinesOnAnExportedBundle) {
  adascale::testing::TempDir dir;
  std::string run_dir = trained_run(dir, true);
  std::string bundle = dir.file("tiny.adascale");
  ASSERT_EQ(run("export --run " + run_dir + " --out " + bundle).status, 0);
  Result r = embed(bundle + " 50 25");
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(count_lines(r.out), 1) << r.out;

  // "last class C; N inferences; running V; ..." with C one of the
  // bundle's classes and V one of its variants' names.
  const adascale::runtime::LoadedBundle loaded =
      adascale::runtime::load_bundle(bundle);
  const std::string prefix = "last class ";
  ASSERT_EQ(r.out.rfind(prefix, 0), 0u) << r.out;
  const std::string label =
      r.out.substr(prefix.size(), r.out.find(';') - prefix.size());
  EXPECT_NE(
      std::find(loaded.class_names.begin(), loaded.class_names.end(), label),
      loaded.class_names.end())
      << label;
  EXPECT_NE(r.out.find("; 25 inferences; running e"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(" decisions, "), std::string::npos) << r.out;
}

TEST(CliEmbedExample, BadArgumentsAreOneLineAndNonZero) {
  adascale::testing::TempDir dir;
  Result usage = embed("");
  EXPECT_EQ(usage.status, 2);
  EXPECT_NE(usage.err.find("usage: embed_runtime"), std::string::npos)
      << usage.err;
  struct Case {
    std::string args, expect;
  };
  const Case cases[] = {
      {dir.file("none.adascale"), "none.adascale"},
      {dir.file("none.adascale") + " -3", "BUDGET_MS"},
      {dir.file("none.adascale") + " 10 2.5", "ITERATIONS"},
      {dir.file("none.adascale") + " 10 many", "ITERATIONS"},
  };
  for (const Case& c : cases) {
    Result r = embed(c.args);
    EXPECT_EQ(r.status, 1) << c.args;
    EXPECT_EQ(count_lines(r.err), 1) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << "\n"
                                                       << r.err;
  }
}

// ---- reliability: one writer per target, damaged files, failed writes ----

namespace {

// A child process holding the writer lock of `target` until killed.
pid_t hold_lock_in_child(const std::string& target, const std::string& cmd) {
  int ready[2];
  if (::pipe(ready) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(ready[0]);
    try {
      adascale::core::PathLock lock =
          adascale::core::PathLock::acquire(target, cmd);
      const char ok = 'y';
      if (::write(ready[1], &ok, 1) != 1) ::_exit(2);
      for (;;) ::pause();
    } catch (...) {
      ::_exit(1);
    }
  }
  ::close(ready[1]);
  char got = 0;
  const bool ok = ::read(ready[0], &got, 1) == 1;
  ::close(ready[0]);
  return ok ? pid : -1;
}

void kill_holder(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

void flip_byte(const std::string& path, size_t offset) {
  std::string bytes = adascale::core::read_file(path);
  ASSERT_LT(offset, bytes.size());
  bytes[offset] = char(bytes[offset] ^ 0x01);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

}  // namespace

TEST(CliReliability, SecondWriterIsRefusedBeforeTouchingAnything) {
  adascale::testing::TempDir dir;
  const std::string out = trained_run(dir, false);
  const std::string metrics = adascale::core::read_file(out + "/metrics.csv");
  const pid_t holder = hold_lock_in_child(out, "train");
  ASSERT_GT(holder, 0);
  const std::string pid = "pid " + std::to_string(holder) + ", adascale train";
  Result resumed = run("train --resume --run " + out);
  EXPECT_EQ(resumed.status, 1);
  EXPECT_EQ(count_lines(resumed.err), 1) << resumed.err;
  EXPECT_NE(resumed.err.find(out + ": in use by another adascale process (" +
                             pid + ")"),
            std::string::npos)
      << resumed.err;
  EXPECT_EQ(adascale::core::read_file(out + "/metrics.csv"), metrics);
  std::string device = dir.write("test_machine.yaml", kTestDevice);
  Result tables =
      run("tables --batch 2 --run " + out + " --device-profile " + device);
  EXPECT_EQ(tables.status, 1);
  EXPECT_NE(tables.err.find(pid), std::string::npos) << tables.err;
  EXPECT_FALSE(std::filesystem::exists(out + "/tables.h5"));
  // Killed, the holder's lock is free: the run resumes.
  kill_holder(holder);
  Result after = run("train --resume --run " + out);
  EXPECT_EQ(after.status, 0) << after.err;

  const std::string bundle = dir.file("b.adascale");
  const pid_t exporter = hold_lock_in_child(bundle, "export");
  ASSERT_GT(exporter, 0);
  Result e = run("export --run " + out + " --out " + bundle);
  EXPECT_EQ(e.status, 1);
  EXPECT_NE(e.err.find("pid " + std::to_string(exporter) + ", adascale export"),
            std::string::npos)
      << e.err;
  EXPECT_FALSE(std::filesystem::exists(bundle));
  kill_holder(exporter);
}

TEST(CliReliability, DamagedCheckpointOrTablesAreRefusedByName) {
  adascale::testing::TempDir dir;
  const std::string out = trained_run(dir, true);
  const std::string last = out + "/checkpoints/last.pt";
  const std::string good = adascale::core::read_file(last);
  for (size_t offset : {size_t(100), good.size() / 2, good.size() - 100}) {
    flip_byte(last, offset);
    Result e = run("eval --json --run " + out);
    EXPECT_EQ(e.status, 1) << "offset " << offset;
    EXPECT_EQ(count_lines(e.err), 1) << e.err;
    EXPECT_NE(e.err.find(last + ": checksum mismatch"), std::string::npos)
        << e.err;
    adascale::core::write_file_atomic(last, good);
  }
  // --resume passes over the damaged last.pt to the newest intact stage
  // checkpoint, which here is the finished run's last stage.
  flip_byte(last, good.size() / 2);
  Result resumed = run("train --json --resume --run " + out);
  EXPECT_EQ(resumed.status, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("checksum mismatch"), std::string::npos)
      << resumed.err;
  EXPECT_NE(resumed.err.find("stage2.pt, the newest intact stage checkpoint"),
            std::string::npos)
      << resumed.err;

  flip_byte(out + "/tables.h5", 2000);
  Result s = run("search --run " + out + " --latency-ms 1000");
  EXPECT_EQ(s.status, 1);
  EXPECT_NE(s.err.find(out + "/tables.h5: checksum mismatch with "
                             "tables.h5.sha256"),
            std::string::npos)
      << s.err;
}

TEST(CliReliability, ExportThatFailsMidwayKeepsThePreviousBundle) {
  adascale::testing::TempDir dir;
  const std::string out = trained_run(dir, true);
  const std::string bundle = dir.file("tiny.adascale");
  ASSERT_EQ(run("export --run " + out + " --out " + bundle).status, 0);
  const std::string sums = adascale::core::read_file(bundle + "/SHA256SUMS");
  // The disk "fills up" 4 KiB into weights.pt.
  Result r =
      run_binary("ADASCALE_TEST_WRITE_LIMIT=4096 " + std::string(ADASCALE_BIN),
                 "export --force --run " + out + " --out " + bundle);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  EXPECT_EQ(adascale::core::read_file(bundle + "/SHA256SUMS"), sums);
  EXPECT_NO_THROW(adascale::runtime::load_bundle(bundle));
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".tiny.adascale.tmp"),
              std::string::npos)
        << "left behind: " << entry.path();
  }
  // A tables write that fails keeps the old tables.h5 and its checksum.
  const std::string tables = adascale::core::read_file(out + "/tables.h5");
  std::string device = dir.write("test_machine.yaml", kTestDevice);
  Result t =
      run_binary("ADASCALE_TEST_WRITE_LIMIT=10 " + std::string(ADASCALE_BIN),
                 "tables --batch 2 --repeats 3 --run " + out +
                     " --device-profile " + device);
  EXPECT_EQ(t.status, 1);
  EXPECT_EQ(adascale::core::read_file(out + "/tables.h5"), tables);
  Result s = run("search --run " + out + " --latency-ms 1000");
  EXPECT_EQ(s.status, 0) << s.err;
}

TEST(CliDemo, BadTimesAndOutputPathFailBeforeTheRun) {
  adascale::testing::TempDir dir;
  std::string run_dir = trained_run(dir, true);
  std::string bundle = dir.file("tiny.adascale");
  ASSERT_EQ(run("export --run " + run_dir + " --out " + bundle).status, 0);
  const std::string file = dir.write("plain_file", "x");
  const std::string base = "--bundle " + bundle + " ";
  struct Case {
    std::string args, expect;
  };
  const Case cases[] = {
      {base + "--set warmup_s=inf", "warmup_s: must be a finite number"},
      {base + "--set warmup_s=nan", "warmup_s: must be a finite number"},
      {base + "--set warmup_s=-5", "warmup_s: must be >= 0"},
      {base + "--set duration_s=inf", "duration_s: must be a finite number"},
      {base + "--config " +
           dir.write("inf.yaml", "duration_s: 1\nwarmup_s: inf\n"),
       "inf.yaml:2: warmup_s"},
      {base + "--set duration_s=1 --out " + file + "/sub", "--out " + file},
  };
  for (const Case& c : cases) {
    Result r = demo(c.args);
    EXPECT_EQ(r.status, 1) << c.args << "\n" << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << "\n"
                                                       << r.err;
    EXPECT_EQ(r.out.find("ready in"), std::string::npos) << c.args;
  }
}

namespace {

// Long enough that only a hang reaches it: a child still running then is
// killed and the test fails instead of hanging the suite. No test asserts
// how long a child took.
constexpr std::chrono::minutes kChildHangLimit{5};

using Clock = std::chrono::steady_clock;

// Reaps `pid`; past `until` kills it first. Its waitpid status, or nothing
// when it had to be killed.
std::optional<int> wait_child(pid_t pid, Clock::time_point until) {
  for (;;) {
    int raw = 0;
    const pid_t got = ::waitpid(pid, &raw, WNOHANG);
    if (got == pid) return raw;
    if (got < 0 && errno != EINTR) return std::nullopt;
    if (Clock::now() > until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Starts `binary args...` (no shell) with stdout into `out_fd` (or a file
// when `out_file` is given) and stderr into `err_file`.
pid_t start_child(const std::string& binary,
                  const std::vector<std::string>& args, int out_fd,
                  const std::string& out_file, const std::string& err_file) {
  std::vector<std::string> owned = {binary};
  owned.insert(owned.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : owned) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (!out_file.empty()) {
    out_fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  const int err_fd =
      ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out_fd < 0 || err_fd < 0) ::_exit(126);
  ::dup2(out_fd, STDOUT_FILENO);
  ::dup2(err_fd, STDERR_FILENO);
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

// What an adascale-demo run did when sent `signal` on seeing `trigger`.
struct SignalledDemo {
  bool signalled = false;
  std::optional<int> raw;  ///< waitpid status; none when it hung
  std::string out;         ///< its stdout
  std::string err;         ///< its stderr
};

// Runs adascale-demo with `args` and sends it `signal` as soon as `trigger`
// shows on its stdout (never after a guessed delay).
SignalledDemo signal_demo(const adascale::testing::TempDir& dir,
                          const std::vector<std::string>& args,
                          const std::string& trigger, int signal) {
  SignalledDemo r;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return r;
  const std::string err_file = dir.file("demo_stderr.txt");
  const pid_t pid =
      start_child(ADASCALE_DEMO_BIN, args, pipe_fds[1], "", err_file);
  ::close(pipe_fds[1]);
  if (pid <= 0) {
    ::close(pipe_fds[0]);
    return r;
  }
  const Clock::time_point until = Clock::now() + kChildHangLimit;
  char buf[256];
  for (;;) {
    pollfd readable{pipe_fds[0], POLLIN, 0};
    const int ready = ::poll(&readable, 1, 100);
    if (ready < 0 && errno != EINTR) break;
    if (Clock::now() > until) break;  // wait_child kills it
    if (ready <= 0) continue;
    const ssize_t n = ::read(pipe_fds[0], buf, sizeof buf);
    if (n <= 0) break;  // its stdout closed: it is exiting
    r.out.append(buf, size_t(n));
    if (!r.signalled && r.out.find(trigger) != std::string::npos) {
      ::kill(pid, signal);
      r.signalled = true;
    }
  }
  ::close(pipe_fds[0]);
  r.raw = wait_child(pid, until);
  r.err = adascale::core::read_file(err_file);
  return r;
}

}  // namespace

// SIGINT and SIGTERM, in the warm-up and in a measured phase, end the demo
// early with status 130 after writing what was measured. Warm-up and phase
// are an hour long: a demo that ignored the signal would be killed at
// kChildHangLimit and fail, not pass late.
TEST(CliDemo, InterruptWritesWhatWasMeasured) {
  adascale::testing::TempDir dir;
  std::string run_dir = trained_run(dir, true);
  std::string bundle = dir.file("tiny.adascale");
  ASSERT_EQ(run("export --run " + run_dir + " --out " + bundle).status, 0);
  int n = 0;
  for (int signal : {SIGINT, SIGTERM}) {
    for (bool warming : {true, false}) {
      SCOPED_TRACE(std::string(signal == SIGINT ? "SIGINT" : "SIGTERM") +
                   (warming ? " in the warm-up" : " in the adaptive phase"));
      const std::string out = dir.file("demo" + std::to_string(n++));
      // The ready line is printed as the warm-up starts; "[adaptive] t=" once
      // a measured second has been.
      SignalledDemo r = signal_demo(
          dir,
          {"--bundle", bundle, "--set", "runtime.policy.budget_ms=50", "--set",
           "duration_s=3600", "--set", warming ? "warmup_s=3600" : "warmup_s=0",
           "--set", "runtime.intra_op_threads=1", "--set",
           "runtime.min_accuracy=0", "--out", out},
          warming ? "; ready in " : "[adaptive] t=", signal);
      ASSERT_TRUE(r.signalled) << r.out << r.err;
      ASSERT_TRUE(r.raw.has_value()) << "killed after hanging\n"
                                     << r.out << r.err;
      ASSERT_TRUE(WIFEXITED(*r.raw))
          << "killed by signal " << WTERMSIG(*r.raw) << "\n"
          << r.err;
      EXPECT_EQ(WEXITSTATUS(*r.raw), 130) << r.err;
      EXPECT_NE(r.err.find("interrupted; wrote what was measured"),
                std::string::npos)
          << r.err;
      auto summary = nlohmann::json::parse(
          adascale::core::read_file(out + "/summary.json"));
      EXPECT_TRUE(summary.at("interrupted").get<bool>());
      const nlohmann::json phases =
          summary.value("phases", nlohmann::json::object());
      EXPECT_FALSE(phases.contains("static"));
      std::ifstream csv(out + "/timeline.csv");
      std::string header, row;
      ASSERT_TRUE(static_cast<bool>(std::getline(csv, header)))
          << "no timeline.csv";
      EXPECT_EQ(header.rfind("phase,t_s,", 0), 0u) << header;
      const bool has_row = static_cast<bool>(std::getline(csv, row));
      if (warming) {
        // Stopped before any phase: nothing measured, nothing reported.
        EXPECT_TRUE(phases.empty()) << phases;
        EXPECT_FALSE(has_row) << row;
      } else {
        EXPECT_GT(phases.at("adaptive").at("inferences").get<int64_t>(), 0);
        EXPECT_TRUE(has_row) << "no measured row";
      }
    }
  }
}

// Four `adascale train` on one fresh run directory at once: the lock makes
// one the writer; the others are refused naming it, before touching the
// run. Once the winner's pid is in the lock file it is stopped (SIGSTOP)
// until the others have exited, so a slow starter cannot arrive after it
// finished (and meet "already holds a run" instead of the lock).
TEST(CliReliability, FreshRunRaceHasOneWriter) {
  adascale::testing::TempDir dir;
  const std::string config = dir.write("tiny.yaml", kTinyTrain);
  const std::string out = dir.file("run");
  const std::string lock = adascale::core::PathLock::lock_path_for(out);
  const Clock::time_point until = Clock::now() + kChildHangLimit;
  constexpr int kRacers = 4;
  std::vector<pid_t> pids;
  for (int i = 0; i < kRacers; ++i) {
    const std::string n = std::to_string(i);
    pids.push_back(start_child(
        ADASCALE_BIN,
        {"train", "--config", config, "--run", out, "--set", "train.epochs=1"},
        -1, dir.file("out" + n), dir.file("err" + n)));
    ASSERT_GT(pids.back(), 0);
  }
  // Reaped here, or killed should an assertion end the test early.
  std::vector<std::optional<int>> raw(kRacers);
  std::vector<bool> reaped(kRacers, false);
  struct Reaper {
    std::vector<pid_t>& pids;
    std::vector<bool>& reaped;
    ~Reaper() {
      for (size_t i = 0; i < pids.size(); ++i) {
        if (reaped[i] || pids[i] <= 0) continue;
        ::kill(pids[i], SIGKILL);
        ::waitpid(pids[i], nullptr, 0);
      }
    }
  } reaper{pids, reaped};

  // The winner: the racer whose pid the lock file names.
  int winner = -1;
  while (winner < 0 && Clock::now() < until) {
    std::ifstream in(lock);
    long pid = 0;
    if (in >> pid) {
      for (int i = 0; i < kRacers; ++i) {
        if (pids[size_t(i)] == pid) winner = i;
      }
    }
    bool all_done = true;
    for (int i = 0; i < kRacers; ++i) {
      if (reaped[size_t(i)]) continue;
      int status = 0;
      if (::waitpid(pids[size_t(i)], &status, WNOHANG) == pids[size_t(i)]) {
        raw[size_t(i)] = status;
        reaped[size_t(i)] = true;
      } else {
        all_done = false;
      }
    }
    if (all_done) break;
    if (winner < 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_GE(winner, 0) << "no racer took the lock";
  const pid_t winner_pid = pids[size_t(winner)];
  ::kill(winner_pid, SIGSTOP);
  for (int i = 0; i < kRacers; ++i) {
    if (i == winner || reaped[size_t(i)]) continue;
    raw[size_t(i)] = wait_child(pids[size_t(i)], until);
    reaped[size_t(i)] = true;
  }
  ::kill(winner_pid, SIGCONT);
  if (!reaped[size_t(winner)]) {
    raw[size_t(winner)] = wait_child(winner_pid, until);
    reaped[size_t(winner)] = true;
  }

  for (int i = 0; i < kRacers; ++i) {
    const std::string err =
        adascale::core::read_file(dir.file("err" + std::to_string(i)));
    ASSERT_TRUE(raw[size_t(i)].has_value()) << "racer " << i << " hung";
    ASSERT_TRUE(WIFEXITED(*raw[size_t(i)])) << "racer " << i << " killed";
    const int status = WEXITSTATUS(*raw[size_t(i)]);
    if (i == winner) {
      EXPECT_EQ(status, 0) << err;
      continue;
    }
    EXPECT_EQ(status, 1) << "racer " << i << ": " << err;
    EXPECT_EQ(count_lines(err), 1) << err;
    // The pid is "unknown" to a racer that came between the winner's lock
    // and its record.
    const std::string refused = out + ": in use by another adascale process (";
    EXPECT_TRUE(err.find(refused + "pid " + std::to_string(winner_pid) +
                         ", adascale train)") != std::string::npos ||
                err.find(refused + "pid unknown") != std::string::npos)
        << "racer " << i << ": " << err;
  }
  // One writer: one header in metrics.csv.
  std::ifstream metrics(out + "/metrics.csv");
  std::string header;
  ASSERT_TRUE(static_cast<bool>(std::getline(metrics, header)));
  int headers = 1, rows = 0;
  for (std::string line; std::getline(metrics, line);) {
    (line == header ? headers : rows) += 1;
  }
  EXPECT_EQ(headers, 1);
  EXPECT_GT(rows, 0);
}
