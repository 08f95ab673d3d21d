// The requests still generating, by response id ("chatcmpl-..."), so a client can steer one while it runs:
// POST /v1/chat/completions/{id}/answer_now ends the thinking of every choice of that response.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/engine.h"

namespace muse::server {

class ActiveRequests {
 public:
  // Registers the sequences of response `id`; they stay registered while the returned handle lives.
  std::shared_ptr<void> add(const std::string& id, std::vector<SeqId> sequences);
  // One more sequence of a running response (a sub-agent it spawned); nothing when `id` is not running.
  void extend(const std::string& id, SeqId sequence);
  // Ends the thinking of each sequence of `id` that still thinks (Engine::end_thinking). False when no request
  // of that id is running (it finished, or never existed).
  bool end_thinking(const std::string& id, Engine& engine);
  size_t size() const;

 private:
  void remove(const std::string& id);
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::vector<SeqId>> running_;
};

}  // namespace muse::server
