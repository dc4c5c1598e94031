// ManagerCore implementation: the same decisions as the Rust agent core, step for step.
#include "ManagerCore.h"

#include "MiniJson.h"

namespace tosca {

const char* const kSuccess = "success";
const char* const kMd5Mismatch = "md5 mismatch";
const char* const kSizeMismatch = "size mismatch";
const char* const kBadMagicByte = "bad magic byte";
const char* const kNotEnoughSpace = "not enough space";
const char* const kNoAppInstalled = "no app installed";
const char* const kAppRefusedToStart = "app refused to start";
const char* const kFlashInterrupted = "flash interrupted";

Str responseJson(const Str& hardwareId, const Str& response) {
  return "{\"messageType\":\"response\",\"response\":" + jsonQuote(response) +
         ",\"hardwareId\":" + jsonQuote(hardwareId) + "}";
}

Str progressJson(const Str& hardwareId, uint64_t written, uint64_t total) {
  return "{\"messageType\":\"progress\",\"hardwareId\":" + jsonQuote(hardwareId) +
         ",\"written\":" + Str::number(written) + ",\"total\":" + Str::number(total) + "}";
}

ManagerCore::ManagerCore(const Str& hardwareId, Storage& storage, Flash& flash, Downloader& downloader,
                         Outbox& outbox, uint64_t slotCapacity)
    : id_(hardwareId),
      storage_(storage),
      flash_(flash),
      downloader_(downloader),
      outbox_(outbox),
      slotCapacity_(slotCapacity) {}

void ManagerCore::respond(const Str& response) { outbox_.publish(responseJson(id_, response)); }

void ManagerCore::respondError(const Str& reason) { respond("error: " + reason); }

void ManagerCore::persist() {
  if (!storage_.save(state_)) outbox_.log("could not save state");
}

void ManagerCore::boot() {
  State loaded;
  if (storage_.load(loaded)) state_ = loaded;
  bool dirty = false;
  if (state_.flashing) {
    state_.flashing = false;
    state_.hasPending = false;
    respondError(kFlashInterrupted);
    dirty = true;
  }
  if (state_.hasPending) {
    respond(state_.pendingResponse);
    state_.hasPending = false;
    state_.pendingResponse.clear();
    dirty = true;
  }
  if (state_.running) {
    if (!(state_.hasApp && app_->start())) {
      state_.running = false;
      dirty = true;
    }
  }
  if (dirty) persist();
}

void ManagerCore::handleMessage(const char* payload, size_t len) {
  Json msg;
  if (!Json::parse(payload, len, msg) || !msg.isObject()) {
    outbox_.log("ignored control message: not a JSON object");
    return;
  }
  Json type = msg.get("messageType");
  if (!type.isString()) {
    outbox_.log("ignored control message: no messageType");
    return;
  }
  Str t = type.asString();
  if (t == "install") {
    Json url = msg.get("installUrl");
    Json size = msg.get("binarySize");
    Json hash = msg.get("hash");
    if (!url.isString() || !size.isUnsigned() || !hash.isString()) {
      outbox_.log("ignored install: missing or bad fields");
      return;
    }
    install(url.asString(), size.asUnsigned(), hash.asString());
  } else if (t == "configure") {
    Json cfg = msg.get("appConfig");
    if (!cfg.isString()) {
      outbox_.log("ignored configure: no appConfig");
      return;
    }
    if (!state_.hasApp) return respondError(kNoAppInstalled);
    Str text = cfg.asString();
    app_->configure(text);
    state_.hasConfig = true;
    state_.appConfig = text;
    persist();
    respond(kSuccess);
  } else if (t == "start") {
    if (!state_.hasApp) return respondError(kNoAppInstalled);
    if (!state_.running) {
      if (!app_->start()) return respondError(kAppRefusedToStart);
      state_.running = true;
      persist();
    }
    respond(kSuccess);
  } else if (t == "stop") {
    if (!state_.hasApp) return respondError(kNoAppInstalled);
    if (state_.running) {
      app_->stop();
      state_.running = false;
      persist();
    }
    respond(kSuccess);
  } else if (t == "uninstall") {
    if (!state_.hasApp) return respondError(kNoAppInstalled);
    if (state_.running) app_->stop();
    app_->uninstall();
    state_.hasApp = false;
    state_.appMd5.clear();
    state_.appSize = 0;
    state_.running = false;
    state_.hasConfig = false;
    state_.appConfig.clear();
    persist();
    respond(kSuccess);
  } else {
    outbox_.log("ignored control message: unknown messageType " + t);
  }
}

void ManagerCore::install(const Str& url, uint64_t size, const Str& hash) {
  if (size == 0) return respondError(kSizeMismatch);
  if (size > slotCapacity_ || !flash_.begin(size)) return respondError(kNotEnoughSpace);
  app_->install();
  size_ = size;
  written_ = 0;
  uint64_t step = progressSteps > 0 ? (size + progressSteps - 1) / static_cast<uint64_t>(progressSteps) : 0;
  nextProgress_ = step > 0 ? step : UINT64_MAX;
  md5_ = Md5();
  failure_.clear();
  state_.flashing = true;
  persist();

  for (int attempt = 1;; attempt++) {
    FetchResult r = downloader_.fetch(url, written_, *this);
    if (!failure_.empty()) return failInstall(failure_);
    if (r.kind == FetchResult::Done) break;
    if (r.kind == FetchResult::Retry && attempt < maxDownloadAttempts) {
      outbox_.log("download broke (" + r.reason + "), resuming at " + Str::number(written_));
      downloader_.waitBeforeRetry();
      continue;
    }
    return failInstall("download failed: " + r.reason);
  }
  if (written_ != size_) return failInstall(kSizeMismatch);
  if (md5_.hexDigest() != hash.lower()) return failInstall(kMd5Mismatch);
  if (!flash_.commit()) return failInstall("flash write failed");
  state_.hasApp = true;
  state_.appMd5 = hash.lower();
  state_.appSize = size_;
  state_.flashing = false;
  state_.running = false;
  state_.hasConfig = false;
  state_.appConfig.clear();
  persist();
  // Answer, then reboot (thesis). Only an answer that could not be sent at all (no connection)
  // waits in the state for the next boot.
  if (!outbox_.publish(responseJson(id_, kSuccess))) {
    state_.hasPending = true;
    state_.pendingResponse = kSuccess;
    persist();
  }
  outbox_.reboot();
}

void ManagerCore::failInstall(const Str& reason) {
  flash_.abort();
  state_.flashing = false;
  persist();
  respondError(reason);
}

bool ManagerCore::started(bool known, uint64_t total) {
  if (known && total != size_) {
    failure_ = kSizeMismatch;
    return false;
  }
  lastProgressMs_ = clock_ ? clock_->nowMs() : 0;
  return true;
}

bool ManagerCore::chunk(const uint8_t* data, size_t len) {
  if (len == 0) return true;
  if (written_ == 0 && data[0] != kEsp8266MagicByte) {
    failure_ = kBadMagicByte;
    return false;
  }
  if (written_ + len > size_) {
    failure_ = kSizeMismatch;
    return false;
  }
  if (!flash_.write(data, len)) {
    failure_ = "flash write failed";
    return false;
  }
  md5_.update(data, len);
  written_ += len;
  if (written_ >= nextProgress_ || written_ == size_) {
    uint64_t step = (size_ + progressSteps - 1) / static_cast<uint64_t>(progressSteps > 0 ? progressSteps : 1);
    if (step == 0) step = 1;
    while (nextProgress_ <= written_) nextProgress_ += step;
    uint32_t now = clock_ ? clock_->nowMs() : lastProgressMs_;
    if (progressSteps > 0 && static_cast<uint32_t>(now - lastProgressMs_) >= progressIntervalMs) {
      lastProgressMs_ = now;
      outbox_.publish(progressJson(id_, written_, size_));
    }
  }
  return true;
}

}  // namespace tosca
