// Runs the real `adascale` binary: exit codes, one-line errors, --json.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
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
  adascale::testing::TempDir dir;
  std::string err_file = dir.file("stderr.txt");
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

}  // namespace
