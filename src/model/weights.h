// Model weights <-> safetensors files, and the on-disk model directory that generate/chat/serve load:
//   DIR/config.json  DIR/model.safetensors  DIR/tokenizer.model  (+ DIR/report.md from training)
#pragma once
#include <map>
#include <string>

#include <torch/nn/module.h>

#include "model/transformer.h"
#include "tokenizer/tokenizer.h"

namespace muse {

// Writes every named parameter of `module` (as F32, or F16/BF16 when `dtype` says so) atomically.
void save_module_weights(const torch::nn::Module& module, const std::string& path,
                         const std::map<std::string, std::string>& metadata = {},
                         torch::ScalarType dtype = torch::kFloat32);
// Strict load: every parameter present with the right shape, no unexpected tensors. MuseError names the file
// and the tensor. Accepts F32/F16/BF16 files (converted to the parameter's dtype and device).
void load_module_weights(torch::nn::Module& module, const std::string& path);

// Named tensors to/from a safetensors file (optimizer state etc.); tensors are copied to CPU to write.
void save_tensor_map(const std::map<std::string, torch::Tensor>& tensors, const std::string& path,
                     const std::map<std::string, std::string>& metadata = {});
std::map<std::string, torch::Tensor> load_tensor_map(const std::string& path);

struct LoadedModel {
  ModelConfig config;
  Transformer model{nullptr};
  Tokenizer tokenizer;
  std::string dir;
};

// Reads DIR/config.json's "model" object strictly; MuseError names the file and the problem.
ModelConfig load_model_config(const std::string& config_path);
// Loads DIR/{config.json, model.safetensors, tokenizer.model}; MuseError names the missing or bad file.
LoadedModel load_model_dir(const std::string& dir, const torch::Device& device);
// Writes config + weights + tokenizer into DIR (created if needed), each file atomically.
void save_model_dir(const std::string& dir, const ModelConfig& config, const torch::nn::Module& model,
                    const Tokenizer& tokenizer, torch::ScalarType dtype = torch::kFloat32);

}  // namespace muse
