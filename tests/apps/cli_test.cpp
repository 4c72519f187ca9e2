// Runs the real `adascale` binary: exit codes, one-line errors, --json.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace {

struct Result {
  int status = -1;
  std::string out;  ///< stdout
  std::string err;  ///< stderr
};

Result run(const std::string& args) {
  // A file of its own: a TempDir here would share (and on exit remove) the
  // calling test's directory.
  char err_template[] = "/tmp/adascale_cli_stderr_XXXXXX";
  int fd = mkstemp(err_template);
  if (fd < 0) return Result{};
  close(fd);
  std::string err_file = err_template;
  std::string cmd = std::string(ADASCALE_BIN) + " " + args + " 2>" + err_file;
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

// The default net's exits sit near the paper's Table III (±30%) and its
// variant space is of the paper's order.
TEST(CliInspect, DefaultElasticNetMatchesThePaperScale) {
  Result r =
      run("inspect --json --model " + model_config("adascale_cifar.yaml"));
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  const double paper[] = {0.26e6, 1.36e6, 1.68e6, 2.50e6};
  ASSERT_EQ(j["exits"].size(), 4u);
  for (int e = 0; e < 4; ++e) {
    double params = j["exits"][e]["params"].get<double>();
    EXPECT_NEAR(params / paper[e], 1.0, 0.30) << "exit " << e + 1;
  }
  int64_t variants = j["variants"].get<int64_t>();
  EXPECT_GE(variants, 240);
  EXPECT_LE(variants, 960);
  EXPECT_EQ(j["exits"][3]["variant"], "e4:basic.basic.basic.basic");
  for (const auto& stage : j["stages"]) {
    EXPECT_GE(stage["candidates"].size(), 4u);
  }
}

TEST(CliInspect, SetOverridesAndBadInputs) {
  Result r = run("inspect --json --model " + model_config("resnet18.yaml") +
                 " --set classes=100");
  ASSERT_EQ(r.status, 0) << r.err;
  // 512 * 90 more classifier weights and 90 more biases than 10 classes.
  EXPECT_EQ(nlohmann::json::parse(r.out)["params"].get<int64_t>(),
            11173962 + 512 * 90 + 90);
  for (const std::string& args : std::vector<std::string>{
           "inspect --model /nonexistent.yaml",
           "inspect --model " + model_config("adascale_cifar.yaml") +
               " --set stages.0.out=3",
           "inspect --model " + model_config("adascale_cifar.yaml") +
               " --set classes=zero",
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
  Result t = run("train --json --config " + config + " --out " + out);
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

  // The same --out again without --resume is refused; --resume of a
  // finished run trains nothing more.
  Result again = run("train --config " + config + " --out " + out);
  EXPECT_NE(again.status, 0);
  EXPECT_NE(again.err.find("already holds a run"), std::string::npos);
  Result resumed = run("train --json --resume --out " + out);
  ASSERT_EQ(resumed.status, 0) << resumed.err;
  EXPECT_TRUE(nlohmann::json::parse(resumed.out)["stages"].is_null());

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
    Result r = run(c.args + " --out " + dir.file("x"));
    if (c.args.rfind("eval", 0) == 0) r = run(c.args);
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_EQ(count_lines(r.err), 1) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << c.args << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir.file("x/checkpoints/last.pt")));
  }
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

}  // namespace
