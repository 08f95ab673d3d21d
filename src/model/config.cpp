#include "model/config.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace muse {

const char* ffn_activation_name(FfnActivation activation) {
  switch (activation) {
    case FfnActivation::SwiGLU: return "swiglu";
    case FfnActivation::ReLU2: return "relu2";
  }
  return "?";
}

FfnActivation parse_ffn_activation(const std::string& name) {
  if (name == "swiglu") return FfnActivation::SwiGLU;
  if (name == "relu2") return FfnActivation::ReLU2;
  throw MuseError("unknown ffn_activation '" + name + "' (known: swiglu, relu2)", ErrorKind::InvalidRequest);
}

void ModelConfig::validate() const {
  auto fail = [](const std::string& m) { throw MuseError("model config: " + m); };
  if (vocab_size < 8) fail("vocab_size must be >= 8, got " + std::to_string(vocab_size));
  if (d_model <= 0 || n_layers <= 0 || n_heads <= 0 || n_kv_heads <= 0 || ffn_hidden <= 0 || max_seq_len <= 0)
    fail("d_model, n_layers, n_heads, n_kv_heads, ffn_hidden and max_seq_len must be positive");
  if (d_model % n_heads != 0)
    fail("d_model (" + std::to_string(d_model) + ") must be divisible by n_heads (" + std::to_string(n_heads) + ")");
  if (n_heads % n_kv_heads != 0)
    fail("n_heads (" + std::to_string(n_heads) + ") must be a multiple of n_kv_heads (" +
         std::to_string(n_kv_heads) + ")");
  if (head_dim() % 2 != 0) fail("head_dim must be even for rotary embeddings");
  if (mrope_sections[0] + mrope_sections[1] + mrope_sections[2] != head_dim() / 2)
    fail("mrope_sections must sum to head_dim/2 = " + std::to_string(head_dim() / 2));
  if (rope_theta <= 1.0) fail("rope_theta must be > 1");
  if (logit_softcap < 0) fail("logit_softcap must be >= 0 (0 = off), got " + std::to_string(logit_softcap));
  if (patch_size < 0 || patch_size > 64) fail("patch_size must be in 0..64 (0 = text only), got " + std::to_string(patch_size));
  if (patch_size > 0 && max_image_patches < 1) fail("max_image_patches must be >= 1");
  if (patch_token_id >= vocab_size) fail("patch_token_id " + std::to_string(patch_token_id) + " is outside the vocabulary");
}

int64_t ModelConfig::parameter_count() const {
  const int64_t hd = head_dim();
  const int64_t attn = d_model * (n_heads * hd) + 2 * d_model * (n_kv_heads * hd) + (n_heads * hd) * d_model;
  const int64_t ffn = (ffn_activation == FfnActivation::SwiGLU ? 3 : 2) * d_model * ffn_hidden;
  const int64_t norms = 2 * d_model + (qk_norm ? 2 * hd : 0);
  const int64_t vision = sees_images() ? (patch_dim() + 1) * d_model + patch_position_table_size() : 0;
  return (tie_embeddings ? 1 : 2) * vocab_size * d_model + n_layers * (attn + ffn + norms) + d_model + vision;
}

double ModelConfig::train_flops_per_token(int64_t seq_len) const {
  // 6 FLOPs per weight (forward 2, backward 4) excluding the lookups (token embeddings, unless tied, for the
  // tied matrix still works as the head; patch row/column tables), plus causal attention
  // scores and values: 2 matmuls of (seq_len/2 average context) x d per layer, times 3 for backward.
  const double weights = static_cast<double>(parameter_count() - (tie_embeddings ? 0 : vocab_size * d_model) -
                                             (sees_images() ? patch_position_table_size() : 0));
  const double attention = 6.0 * n_layers * d_model * static_cast<double>(seq_len);
  return 6.0 * weights + attention;
}

ModelConfig config_for_depth(int depth) {
  if (depth < 1 || depth > 48) throw MuseError("depth must be in [1, 48], got " + std::to_string(depth));
  ModelConfig c;
  c.preset = "depth" + std::to_string(depth);
  c.n_layers = depth;
  const double width = 128.0 * std::pow(2.0, (depth - 4) / 2.0);
  c.d_model = std::max<int64_t>(64, static_cast<int64_t>(std::llround(width / 64.0)) * 64);
  const int64_t head_dim = c.d_model <= 256 ? 32 : 64;
  c.n_heads = c.d_model / head_dim;
  c.n_kv_heads = c.n_heads;
  c.ffn_hidden = 3 * c.d_model;
  c.vocab_size = c.d_model <= 128 ? 512 : (c.d_model <= 256 ? 2048 : 4096);
  const int64_t pairs = head_dim / 2;
  c.mrope_sections = {pairs / 2, pairs / 4, pairs - pairs / 2 - pairs / 4};
  return c;
}

std::vector<std::string> preset_names() { return {"tiny", "small", "base"}; }

ModelConfig preset_config(const std::string& name) {
  ModelConfig c;
  if (name == "tiny") c = config_for_depth(4);        // V512 d128 L4 H4 ffn384: ~0.98M
  else if (name == "small") c = config_for_depth(6);  // V2048 d256 L6 H8 ffn768: ~6.3M
  else if (name == "base") c = config_for_depth(8);   // V4096 d512 L8 H8 ffn1536: ~31M
  else {
    std::string known;
    for (const auto& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
    throw MuseError("unknown preset '" + name + "' (known: " + known + ")");
  }
  c.preset = name;
  return c;
}

double default_learning_rate(const ModelConfig& config) {
  return 3e-3 * std::sqrt(128.0 / static_cast<double>(config.d_model));
}

void to_json(nlohmann::json& j, const ModelConfig& c) {
  j = nlohmann::json{{"preset", c.preset},         {"vocab_size", c.vocab_size},
                     {"d_model", c.d_model},       {"n_layers", c.n_layers},
                     {"n_heads", c.n_heads},       {"n_kv_heads", c.n_kv_heads},
                     {"ffn_hidden", c.ffn_hidden}, {"ffn_activation", ffn_activation_name(c.ffn_activation)},
                     {"max_seq_len", c.max_seq_len},
                     {"rope_theta", c.rope_theta}, {"mrope_sections", c.mrope_sections},
                     {"norm_eps", c.norm_eps},     {"qk_norm", c.qk_norm},
                     {"z_loss", c.z_loss},         {"init_std", c.init_std},
                     {"zero_init_projections", c.zero_init_projections},
                     {"logit_softcap", c.logit_softcap},
                     {"tie_embeddings", c.tie_embeddings},
                     {"patch_size", c.patch_size}, {"max_image_patches", c.max_image_patches},
                     {"patch_token_id", c.patch_token_id},
                     {"patch_position_embeddings", c.patch_position_embeddings}};
}

ModelConfig model_config_from_json(const nlohmann::json& j, const std::string& origin) {
  if (!j.is_object()) throw file_error(origin, "model config must be a JSON object");
  ModelConfig c;
  nlohmann::json defaults;
  to_json(defaults, c);
  for (const auto& [key, value] : j.items())
    if (!defaults.contains(key)) throw file_error(origin, "unknown model config field \"" + key + "\"");
  auto get = [&](const char* key, auto& field) {
    if (!j.contains(key)) throw file_error(origin, std::string("model config field \"") + key + "\" missing");
    try {
      j.at(key).get_to(field);
    } catch (const nlohmann::json::exception&) {
      throw file_error(origin, std::string("model config field \"") + key + "\" has the wrong type (got " +
                                   j.at(key).dump() + ")");
    }
  };
  get("preset", c.preset);
  get("vocab_size", c.vocab_size);
  get("d_model", c.d_model);
  get("n_layers", c.n_layers);
  get("n_heads", c.n_heads);
  get("n_kv_heads", c.n_kv_heads);
  get("ffn_hidden", c.ffn_hidden);
  get("max_seq_len", c.max_seq_len);
  get("rope_theta", c.rope_theta);
  get("mrope_sections", c.mrope_sections);
  get("norm_eps", c.norm_eps);
  get("qk_norm", c.qk_norm);
  get("z_loss", c.z_loss);
  get("init_std", c.init_std);
  // Fields added later default to the behaviour of the models written before them.
  if (j.contains("zero_init_projections")) get("zero_init_projections", c.zero_init_projections);
  else c.zero_init_projections = false;
  if (j.contains("logit_softcap")) get("logit_softcap", c.logit_softcap);
  else c.logit_softcap = 0.0;
  if (j.contains("ffn_activation")) {
    std::string name;
    get("ffn_activation", name);
    try {
      c.ffn_activation = parse_ffn_activation(name);
    } catch (const MuseError& e) {
      throw file_error(origin, std::string("model config field \"ffn_activation\": ") + e.what());
    }
  } else {
    c.ffn_activation = FfnActivation::SwiGLU;
  }
  if (j.contains("tie_embeddings")) get("tie_embeddings", c.tie_embeddings);
  else c.tie_embeddings = false;
  // Image fields arrived after the first shipped models: their absence means a text-only model.
  if (j.contains("patch_size")) {
    get("patch_size", c.patch_size);
    get("max_image_patches", c.max_image_patches);
    get("patch_token_id", c.patch_token_id);
  } else {
    c.patch_size = 0;
  }
  if (j.contains("patch_position_embeddings")) get("patch_position_embeddings", c.patch_position_embeddings);
  else c.patch_position_embeddings = false;
  try {
    c.validate();
  } catch (const MuseError& e) {
    throw file_error(origin, e.what(), e.kind());
  }
  return c;
}

}  // namespace muse
