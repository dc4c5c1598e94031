// Host tests of the Arduino library's message handling (g++, no Arduino headers): every shared
// protocol fixture (firmware/fixtures/protocol/*.json, the same files the Rust agent tests
// read), plus MD5 vectors, JSON edge cases, a resumed download and progress timing.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ManagerCore.h"
#include "MiniJson.h"

using namespace tosca;

namespace {

int failures = 0;
int passed = 0;

void check(bool ok, const std::string& what) {
  if (ok) {
    passed++;
  } else {
    failures++;
    std::printf("FAIL: %s\n", what.c_str());
  }
}

std::string S(const Str& s) { return std::string(s.data(), s.size()); }
Str T(const std::string& s) { return Str(s.data(), s.size()); }
// `text` must outlive `out` (a view into it).
bool parse(const std::string& text, Json& out) { return Json::parse(text.data(), text.size(), out); }

struct MemStorage : Storage {
  State saved;
  bool has = false;
  bool load(State& out) override {
    if (has) out = saved;
    return has;
  }
  bool save(const State& s) override {
    saved = s;
    has = true;
    return true;
  }
};

struct FakeFlash : Flash {
  std::vector<uint8_t> data;
  bool committed = false;
  bool begin(uint64_t) override {
    data.clear();
    return true;
  }
  bool write(const uint8_t* d, size_t n) override {
    data.insert(data.end(), d, d + n);
    return true;
  }
  bool commit() override { return committed = true; }
  void abort() override { data.clear(); }
};

// A clock the test moves.
struct FakeClock : Clock {
  uint32_t now = 0;
  uint32_t nowMs() override { return now; }
};

// Serves `body` in 16-byte chunks, moving `clock` (when set) `msPerChunk` on before each;
// optionally breaks once at `breakAt`.
struct FakeDownloader : Downloader {
  std::vector<uint8_t> body;
  size_t breakAt = SIZE_MAX;
  std::vector<uint64_t> offsets;
  FakeClock* clock = nullptr;
  uint32_t msPerChunk = 0;
  FetchResult fetch(const Str&, uint64_t offset, DownloadSink& sink) override {
    offsets.push_back(offset);
    if (!sink.started(true, body.size())) return {};
    for (size_t pos = offset; pos < body.size(); pos += 16) {
      size_t n = std::min<size_t>(16, body.size() - pos);
      if (clock) clock->now += msPerChunk;
      if (pos < breakAt && pos + n > breakAt) {
        breakAt = SIZE_MAX;
        return {FetchResult::Retry, "connection reset"};
      }
      if (!sink.chunk(body.data() + pos, n)) return {};
    }
    return {};
  }
};

// Records what is published, with the clock's time when `clock` is set.
struct RecOutbox : Outbox {
  std::vector<std::string> published;
  std::vector<uint32_t> at;
  FakeClock* clock = nullptr;
  bool rebooted = false;
  size_t beforeReboot = 0;   // messages published before reboot() was called
  bool brokerDown = false;   // no connection: publishes are not sent
  bool publish(const Str& json) override {
    published.push_back(S(json));
    at.push_back(clock ? clock->now : 0);
    return !brokerDown;
  }
  void reboot() override {
    rebooted = true;
    beforeReboot = published.size();
  }
};

std::string readFile(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<uint8_t> unhex(const std::string& h) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return out;
}

std::string str(const Json& j) { return j.isString() ? S(j.asString()) : std::string("<null>"); }

// Records the callbacks the core makes; start refuses when `refuse`.
struct RecApp : Callbacks {
  std::vector<std::string> calls;
  bool refuse = false;
  void install() override { calls.push_back("install"); }
  void configure(const Str&) override { calls.push_back("configure"); }
  bool start() override {
    calls.push_back("start");
    return !refuse;
  }
  void stop() override { calls.push_back("stop"); }
  void uninstall() override { calls.push_back("uninstall"); }
};

std::string join(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); i++) s += (i ? "," : "") + v[i];
  return s + "]";
}

std::vector<std::string> responsesOf(const std::vector<std::string>& published, const std::string& id) {
  std::vector<std::string> out;
  for (const auto& p : published) {
    Json m;
    if (!parse(p, m) || str(m.get("messageType")) != "response") continue;
    check(str(m.get("hardwareId")) == id, "response names the device: " + p);
    out.push_back(str(m.get("response")));
  }
  return out;
}

void runFixture(const std::filesystem::path& path) {
  std::string name = path.filename().string();
  std::string text = readFile(path);
  Json fx;
  if (!parse(text, fx)) {
    check(false, name + ": fixture is not JSON");
    return;
  }
  Json given = fx.get("given");
  Json expect = fx.get("expect");
  std::string id = str(fx.get("hardwareId"));

  MemStorage storage;
  State st;
  Json inst = given.get("installed");
  if (inst.isObject()) {
    st.hasApp = true;
    st.appMd5 = T(str(inst.get("md5")));
    st.appSize = inst.get("size").asUnsigned();
  }
  st.running = given.get("running").asBool();
  Json cfg = given.get("appConfig");
  if (cfg.isString()) {
    st.hasConfig = true;
    st.appConfig = cfg.asString();
  }
  storage.save(st);

  FakeFlash flash;
  FakeDownloader dl;
  if (Json d = fx.get("download"); !d.isMissing()) dl.body = unhex(str(d.get("bodyHex")));
  RecOutbox out;
  RecApp app;
  app.refuse = given.get("appRefusesStart").asBool();

  ManagerCore core(T(id), storage, flash, dl, out);
  core.boot();  // resuming a running app is not part of the fixture's callbacks
  out.published.clear();
  core.setCallbacks(&app);

  std::string cmd = str(fx.get("command"));
  core.handleMessage(cmd.data(), cmd.size());
  State after = core.state();
  bool rebooted = out.rebooted;
  if (rebooted) {
    ManagerCore again(T(id), storage, flash, dl, out);
    again.boot();
    after = again.state();
  }

  std::vector<std::string> got = responsesOf(out.published, id);
  std::vector<std::string> want;
  if (Json r = expect.get("response"); r.isString()) want.push_back(S(r.asString()));
  check(got == want, name + ": responses " + join(got) + " want " + join(want));

  std::vector<std::string> wantCalls;
  Json wantList = expect.get("callbacks");
  for (size_t i = 0; i < wantList.size(); i++) wantCalls.push_back(str(wantList.item(i)));
  check(wantList.isArray(), name + ": callbacks list");
  check(app.calls == wantCalls, name + ": callbacks " + join(app.calls) + " want " + join(wantCalls));

  Json wi = expect.get("installed");
  bool wantApp = wi.isObject();
  check(after.hasApp == wantApp, name + ": installed presence");
  if (wantApp && after.hasApp) {
    check(S(after.appMd5) == str(wi.get("md5")) && after.appSize == wi.get("size").asUnsigned(),
          name + ": installed image " + S(after.appMd5));
  }
  check(after.running == expect.get("running").asBool(), name + ": running");
  Json wc = expect.get("appConfig");
  bool wantCfg = wc.isString();
  check(after.hasConfig == wantCfg && (!wantCfg || after.appConfig == wc.asString()), name + ": appConfig");
  check(rebooted == expect.get("reboot").asBool(), name + ": reboot");
  check(!after.flashing && !after.hasPending, name + ": leftover install markers");
  if (rebooted) check(flash.committed && flash.data == dl.body, name + ": image committed to flash");
}

void md5Vectors() {
  auto md5 = [](const std::string& s) {
    Md5 m;
    m.update(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    return m.hexDigest();
  };
  check(md5("") == "d41d8cd98f00b204e9800998ecf8427e", "md5 of empty");
  check(md5("a") == "0cc175b9c0f1b6a831c399e269772661", "md5 of a");
  check(md5("The quick brown fox jumps over the lazy dog") == "9e107d9d372bb6826bd81d3542a419d6", "md5 of fox");
  std::string big(1000, 'x');
  Md5 parts;
  for (size_t i = 0; i < big.size(); i += 7)
    parts.update(reinterpret_cast<const uint8_t*>(big.data()) + i, std::min<size_t>(7, big.size() - i));
  check(parts.hexDigest() == md5(big), "md5 incremental == one shot");
}

void jsonEdges() {
  Json j;
  check(Json::parse("{\"a\":\"\\u00e9\\n\",\"b\":[1,2.5,true,null]}", j), "json parses escapes and arrays");
  check(str(j.get("a")) == "\xc3\xa9\n", "json \\u escape to UTF-8");
  check(!Json::parse("{\"a\":1,}", j), "json rejects trailing comma");
  check(!Json::parse("{\"a\":01}", j), "json rejects leading zero");
  check(!Json::parse("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", j), "json depth limit");
  check(Json::parse("18446744073709551615", j) && j.isUnsigned(), "json u64 max");
  check(Json::parse("18446744073709551616", j) && !j.isUnsigned(), "json u64 overflow is not unsigned");
  check(Json::parse("-1", j) && !j.isUnsigned(), "json negative is not unsigned");
  check(jsonQuote("a\"b\\\x01") == "\"a\\\"b\\\\\\u0001\"", "json quoting");
  check(Json::parse("{\"k\":[1,{\"x\":\"y\"},\"z\"],\"k\":2, \"a\\u0062\":true}", j), "json with nesting");
  check(j.size() == 3 && j.get("k").isArray() && j.get("k").size() == 3, "json counts members and items");
  check(str(j.get("k").item(1).get("x")) == "y" && j.get("k").item(3).isMissing(), "json items by index");
  check(j.get("ab").asBool() && j.get("b").isMissing() && j.get("k").item(0).asUnsigned() == 1, "json escaped key");
  check(!Json::parse("", j) && !Json::parse(nullptr, 0, j) && j.isMissing(), "json empty input");
  check(!Json::parse(std::string("{\"a\":1}\0", 8).c_str(), 8, j), "json NUL after the value is junk");
  check(Str::number(0) == "0" && Str::number(18446744073709551615ull) == "18446744073709551615", "str numbers");
  Str s("Ab");
  s += 'C';
  s += Str("d\0e", 3);
  check(s.size() == 6 && s != "AbCd" && s.lower() == Str("abcd\0e", 6) && !s.failed(), "str append and lower");
  Str moved(static_cast<Str&&>(s));
  check(moved.size() == 6 && s.empty() && std::string(s.c_str()).empty(), "str move leaves the source empty");
  check(responseJson("1345963", "success") == "{\"messageType\":\"response\",\"response\":\"success\",\"hardwareId\":\"1345963\"}",
        "response JSON is exact");
}

void resumedDownload() {
  MemStorage storage;
  State st;
  storage.save(st);
  FakeFlash flash;
  FakeDownloader dl;
  dl.body.resize(100);
  for (size_t i = 0; i < 100; i++) dl.body[i] = static_cast<uint8_t>(i * 7);
  dl.body[0] = kEsp8266MagicByte;
  dl.breakAt = 50;
  Md5 m;
  m.update(dl.body.data(), dl.body.size());
  RecOutbox out;
  ManagerCore core("d", storage, flash, dl, out);
  core.boot();
  std::string cmd = "{\"messageType\":\"install\",\"installUrl\":\"http://h/a.bin\",\"binarySize\":100,\"hash\":\"" +
                    S(m.hexDigest()) + "\"}";
  core.handleMessage(cmd.data(), cmd.size());
  check(dl.offsets.size() == 2 && dl.offsets[1] == 48, "download resumed at the written offset");
  check(out.rebooted && flash.data == dl.body, "resumed image is complete");
  check(responsesOf(out.published, "d") == std::vector<std::string>{"success"} &&
            out.beforeReboot == out.published.size(),
        "success is answered before the reboot");
  ManagerCore again("d", storage, flash, dl, out);
  again.boot();
  check(responsesOf(out.published, "d") == std::vector<std::string>{"success"}, "no second answer after the reboot");
}

// No connection when the install's answer is due: it is kept and sent after the reboot.
void answerKeptWhenTheBrokerIsDown() {
  MemStorage storage;
  State st;
  storage.save(st);
  FakeFlash flash;
  FakeDownloader dl;
  dl.body.assign(64, 0x11);
  dl.body[0] = kEsp8266MagicByte;
  Md5 m;
  m.update(dl.body.data(), dl.body.size());
  RecOutbox out;
  out.brokerDown = true;
  ManagerCore core("d", storage, flash, dl, out);
  core.boot();
  std::string cmd = "{\"messageType\":\"install\",\"installUrl\":\"http://h/a.bin\",\"binarySize\":64,\"hash\":\"" +
                    S(m.hexDigest()) + "\"}";
  core.handleMessage(cmd.data(), cmd.size());
  check(out.rebooted && core.state().hasPending, "unacknowledged answer waits in the state");
  out.brokerDown = false;
  out.published.clear();
  ManagerCore again("d", storage, flash, dl, out);
  again.boot();
  check(responsesOf(out.published, "d") == std::vector<std::string>{"success"} && !again.state().hasPending,
        "unacknowledged answer is sent after the reboot");
}

// One install of a `size`-byte image served in 16-byte chunks, the clock starting at `start` and
// moving `msPerChunk` per chunk, optionally breaking once at `breakAt`; returns the progress
// messages (exact JSON) and when each went out. The install must succeed.
struct ProgressRun {
  std::vector<std::string> messages;
  std::vector<uint32_t> at;
  std::vector<uint64_t> written;
};

ProgressRun installTimed(size_t size, uint32_t msPerChunk, int steps, uint32_t intervalMs, bool withClock,
                         uint32_t start = 0, size_t breakAt = SIZE_MAX) {
  MemStorage storage;
  storage.save(State());
  FakeFlash flash;
  FakeClock clock;
  clock.now = start;
  FakeDownloader dl;
  dl.body.resize(size);
  for (size_t i = 0; i < size; i++) dl.body[i] = static_cast<uint8_t>(i * 13 + 1);
  dl.body[0] = kEsp8266MagicByte;
  dl.clock = &clock;
  dl.msPerChunk = msPerChunk;
  dl.breakAt = breakAt;
  Md5 m;
  m.update(dl.body.data(), dl.body.size());
  RecOutbox out;
  out.clock = &clock;
  ManagerCore core("1345963", storage, flash, dl, out);
  if (withClock) core.setClock(&clock);
  core.progressSteps = steps;
  core.progressIntervalMs = intervalMs;
  core.boot();
  std::string cmd = "{\"messageType\":\"install\",\"installUrl\":\"http://h/a.bin\",\"binarySize\":" +
                    std::to_string(size) + ",\"hash\":\"" + S(m.hexDigest()) + "\"}";
  core.handleMessage(cmd.data(), cmd.size());
  check(out.rebooted && flash.data == dl.body, "timed install of " + std::to_string(size) + " bytes succeeds");
  ProgressRun run;
  for (size_t i = 0; i < out.published.size(); i++) {
    Json j;
    if (!parse(out.published[i], j) || str(j.get("messageType")) != "progress") continue;
    run.messages.push_back(out.published[i]);
    run.at.push_back(out.at[i]);
    run.written.push_back(j.get("written").asUnsigned());
  }
  return run;
}

std::string list(const std::vector<uint64_t>& v) {
  std::vector<std::string> s;
  for (uint64_t x : v) s.push_back(std::to_string(x));
  return join(s);
}

// Progress at most once per progressIntervalMs (the Rust agent's progress_interval): a fast
// download reports none, a slow one about once a second, in the Rust agent's exact format.
void progressTiming() {
  check(progressJson("1", 10, 20) == "{\"messageType\":\"progress\",\"hardwareId\":\"1\",\"written\":10,\"total\":20}",
        "progress JSON is exact (as model/src/protocol.rs progress_extension)");

  // 10 chunks, each a 10 % step, 300 ms apart: reports at 1.2 s and 2.4 s; the end (at 3 s) is
  // only 0.6 s after the last report.
  ProgressRun slow = installTimed(160, 300, 10, 1000, true);
  check(slow.written == std::vector<uint64_t>{64, 128},
        "slow download: progress at 64 and 128, got " + list(slow.written));
  check(slow.at == std::vector<uint32_t>{1200, 2400}, "slow download: progress 1.2 s apart");
  check(!slow.messages.empty() &&
            slow.messages[0] == "{\"messageType\":\"progress\",\"hardwareId\":\"1345963\",\"written\":64,\"total\":160}",
        "slow download: progress message format");

  // 100 steps of one chunk each, 300 ms per chunk (30 s): one report every 1.2 s, never closer
  // than the interval.
  ProgressRun fine = installTimed(1600, 300, 100, 1000, true);
  bool spaced = !fine.at.empty() && fine.at[0] >= 1000;
  for (size_t i = 1; i < fine.at.size(); i++) {
    uint32_t gap = fine.at[i] - fine.at[i - 1];
    spaced = spaced && gap >= 1000 && gap <= 1300;
  }
  check(fine.at.size() == 25 && spaced, "slow download: about one report per second, got " + std::to_string(fine.at.size()));

  // Fast: the whole image within the interval (1 ms per chunk), or a clock standing still.
  check(installTimed(160, 1, 10, 1000, true).messages.empty(), "fast download: no progress");
  check(installTimed(1600, 0, 100, 1000, true).messages.empty(), "instant download: no progress");
  check(installTimed(160, 300, 10, 1000, false).messages.empty(), "no clock: no progress");

  // The interval is configurable: 0 reports every 10 % step as before, 500 ms every other one.
  ProgressRun every = installTimed(160, 300, 10, 0, false);
  check(every.written == std::vector<uint64_t>{16, 32, 48, 64, 80, 96, 112, 128, 144, 160},
        "interval 0: every step, got " + list(every.written));
  check(installTimed(160, 300, 10, 500, true).written == std::vector<uint64_t>{32, 64, 96, 128, 160},
        "interval 500 ms: every other step");
  check(installTimed(160, 300, 0, 0, true).messages.empty(), "0 steps: no progress");

  // millis() wrapping around during the download changes nothing.
  ProgressRun wrap = installTimed(160, 300, 10, 1000, true, 0xFFFFFC00u);
  check(wrap.written == std::vector<uint64_t>{64, 128}, "clock wrap-around: got " + list(wrap.written));

  // A resumed download restarts the interval when its response starts, as the Rust download:
  // the break at byte 100 (chunk 7, 2.1 s) resumes at 96; reports at 64 (1.2 s) and at the end.
  ProgressRun resumed = installTimed(160, 300, 10, 1000, true, 0, 100);
  check(resumed.written == std::vector<uint64_t>{64, 160}, "resumed download: got " + list(resumed.written));
}

// Mutated fixture commands and random download bodies: no crash (ASan/UBSan watch), at most
// one response per command, and every response is `success` or `error: ...`.
void fuzz(const std::vector<std::string>& seeds) {
  uint64_t x = 0x9E3779B97F4A7C15ull;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  int bad = 0;
  for (int i = 0; i < 20000 && !seeds.empty(); i++) {
    std::string cmd = seeds[next() % seeds.size()];
    int edits = static_cast<int>(next() % 4);
    for (int e = 0; e < edits && !cmd.empty(); e++) {
      size_t pos = next() % cmd.size();
      switch (next() % 3) {
        case 0: cmd[pos] = static_cast<char>(next() & 0xFF); break;
        case 1: cmd.erase(pos, 1 + next() % 8); break;
        default: cmd.insert(pos, 1, "{}[]\"\\:,0e-"[next() % 12]); break;
      }
    }
    MemStorage storage;
    State st;
    st.hasApp = next() % 2;
    st.appMd5 = "old";
    st.running = st.hasApp && next() % 2;
    storage.save(st);
    FakeFlash flash;
    FakeDownloader dl;
    dl.body.resize(next() % 100);
    for (auto& b : dl.body) b = static_cast<uint8_t>(next());
    if (!dl.body.empty() && next() % 2) dl.body[0] = kEsp8266MagicByte;
    if (next() % 4 == 0) dl.breakAt = next() % 100;
    RecOutbox out;
    ManagerCore core("f", storage, flash, dl, out);
    core.boot();
    out.published.clear();
    core.handleMessage(cmd.data(), cmd.size());
    std::vector<std::string> r = responsesOf(out.published, "f");
    bool ok = r.size() <= 1 && (r.empty() || r[0] == "success" || r[0].rfind("error: ", 0) == 0);
    if (!ok && bad++ < 5) check(false, "fuzz: " + cmd + " -> " + join(r));
    if (r.size() == 1 && r[0] != "success" && st.hasApp) {
      ok = core.state().hasApp && core.state().appMd5 == "old";
      if (!ok && bad++ < 5) check(false, "fuzz: failed command changed the app: " + cmd);
    }
  }
  check(bad == 0, "fuzz: 20000 mutated commands");
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path dir = argc > 1 ? argv[1] : "../fixtures/protocol";
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  check(files.size() >= 20, "fixtures found in " + dir.string());
  std::vector<std::string> seeds;
  for (const auto& f : files) {
    runFixture(f);
    std::string text = readFile(f);
    Json fx;
    if (parse(text, fx)) seeds.push_back(str(fx.get("command")));
  }
  fuzz(seeds);
  md5Vectors();
  jsonEdges();
  resumedDownload();
  answerKeptWhenTheBrokerIsDown();
  progressTiming();
  std::printf("%zu fixture files checked\n", files.size());
  std::printf("arduino: %d passed, %d failed\n", passed, failures);
  return failures == 0 ? 0 : 1;
}
