#include "server/active_requests.h"

namespace muse::server {

std::shared_ptr<void> ActiveRequests::add(const std::string& id, std::vector<SeqId> sequences) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    running_[id] = std::move(sequences);
  }
  // The handle's deleter unregisters: whichever path ends the request (done, error, client gone) drops it.
  return std::shared_ptr<void>(this, [id](ActiveRequests* self) { self->remove(id); });
}

void ActiveRequests::extend(const std::string& id, SeqId sequence) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = running_.find(id);
  if (it != running_.end()) it->second.push_back(sequence);
}

bool ActiveRequests::end_thinking(const std::string& id, Engine& engine) {
  std::vector<SeqId> sequences;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = running_.find(id);
    if (it == running_.end()) return false;
    sequences = it->second;
  }
  for (SeqId s : sequences) engine.end_thinking(s);
  return true;
}

size_t ActiveRequests::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_.size();
}

void ActiveRequests::remove(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  running_.erase(id);
}

}  // namespace muse::server
