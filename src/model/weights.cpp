#include "model/weights.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "model/safetensors.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace muse {
namespace fs = std::filesystem;
namespace {

DType to_dtype(torch::ScalarType t, const std::string& name) {
  switch (t) {
    case torch::kFloat32: return DType::F32;
    case torch::kFloat16: return DType::F16;
    case torch::kBFloat16: return DType::BF16;
    case torch::kInt64: return DType::I64;
    case torch::kInt32: return DType::I32;
    case torch::kUInt8: return DType::U8;
    default: throw MuseError("tensor " + name + ": dtype not storable in safetensors");
  }
}

torch::ScalarType to_scalar_type(DType d) {
  switch (d) {
    case DType::F32: return torch::kFloat32;
    case DType::F16: return torch::kFloat16;
    case DType::BF16: return torch::kBFloat16;
    case DType::I64: return torch::kInt64;
    case DType::I32: return torch::kInt32;
    case DType::U8: return torch::kUInt8;
  }
  return torch::kFloat32;
}

torch::Tensor record_to_tensor(const TensorRecord& r) {
  auto t = torch::empty(r.shape, torch::TensorOptions().dtype(to_scalar_type(r.dtype)));
  if (!r.data.empty()) std::memcpy(t.data_ptr(), r.data.data(), r.data.size());
  return t;
}

std::string shape_string(c10::IntArrayRef shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

void save_tensor_map(const std::map<std::string, torch::Tensor>& tensors, const std::string& path,
                     const std::map<std::string, std::string>& metadata) {
  std::vector<torch::Tensor> keep_alive;  // CPU contiguous copies must outlive the views
  std::vector<TensorView> views;
  for (const auto& [name, tensor] : tensors) {
    keep_alive.push_back(tensor.detach().to(torch::kCPU).contiguous());
    const auto& t = keep_alive.back();
    views.push_back(TensorView{name, to_dtype(t.scalar_type(), name), t.sizes().vec(), t.data_ptr(),
                               static_cast<size_t>(t.nbytes())});
  }
  write_safetensors(path, views, metadata);
}

std::map<std::string, torch::Tensor> load_tensor_map(const std::string& path) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& record : read_safetensors(path).tensors) out[record.name] = record_to_tensor(record);
  return out;
}

void save_module_weights(const torch::nn::Module& module, const std::string& path,
                         const std::map<std::string, std::string>& metadata, torch::ScalarType dtype) {
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& item : module.named_parameters()) tensors[item.key()] = item.value().detach().to(dtype);
  save_tensor_map(tensors, path, metadata);
}

void load_module_weights(torch::nn::Module& module, const std::string& path) {
  const auto file = read_safetensors(path);
  torch::NoGradGuard no_grad;
  size_t matched = 0;
  for (auto& item : module.named_parameters()) {
    const auto* record = file.find(item.key());
    if (!record) throw file_error(path, "tensor \"" + item.key() + "\" missing (wrong model or config?)");
    auto& param = item.value();
    if (record->shape != param.sizes().vec())
      throw file_error(path, "tensor \"" + item.key() + "\" has shape " + shape_string(record->shape) +
                                 ", the model expects " + shape_string(param.sizes()));
    if (record->dtype != DType::F32 && record->dtype != DType::F16 && record->dtype != DType::BF16)
      throw file_error(path, "tensor \"" + item.key() + "\" has dtype " + dtype_name(record->dtype) +
                                 ", expected F32, F16 or BF16");
    param.copy_(record_to_tensor(*record).to(param.dtype()));
    ++matched;
  }
  if (matched != file.tensors.size()) {
    const auto params = module.named_parameters();
    for (const auto& record : file.tensors)
      if (!params.contains(record.name))
        throw file_error(path, "unexpected tensor \"" + record.name + "\" (wrong model or config?)");
  }
}

ModelConfig load_model_config(const std::string& config_path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(config_path));
  } catch (const nlohmann::json::parse_error& e) {
    throw file_error(config_path, std::string("invalid JSON (") + e.what() + ")");
  }
  if (!j.is_object() || !j.contains("model")) throw file_error(config_path, "missing \"model\" object");
  return model_config_from_json(j["model"], config_path);
}

LoadedModel load_model_dir(const std::string& dir, const torch::Device& device) {
  if (!fs::is_directory(dir)) throw file_error(dir, "model directory not found", ErrorKind::NotFound);
  const std::string config_path = (fs::path(dir) / "config.json").string();
  LoadedModel loaded{load_model_config(config_path), Transformer(nullptr),
                     Tokenizer::load((fs::path(dir) / "tokenizer.model").string()), dir};
  if (loaded.tokenizer.vocab_size() != loaded.config.vocab_size)
    throw file_error(config_path, "vocab_size " + std::to_string(loaded.config.vocab_size) +
                                      " does not match tokenizer.model's " +
                                      std::to_string(loaded.tokenizer.vocab_size()));
  loaded.model = Transformer(loaded.config);
  load_module_weights(*loaded.model, (fs::path(dir) / "model.safetensors").string());
  loaded.model->to(device);
  loaded.model->eval();
  return loaded;
}

void save_model_dir(const std::string& dir, const ModelConfig& config, const torch::nn::Module& model,
                    const Tokenizer& tokenizer, torch::ScalarType dtype) {
  fs::create_directories(dir);
  nlohmann::json j;
  j["format"] = "muse-model-v1";
  j["model"] = config;
  write_file_atomic((fs::path(dir) / "config.json").string(), j.dump(2) + "\n");
  write_file_atomic((fs::path(dir) / "tokenizer.model").string(), tokenizer.serialized());
  save_module_weights(model, (fs::path(dir) / "model.safetensors").string(), {{"format", "muse-model-v1"}}, dtype);
}

}  // namespace muse
