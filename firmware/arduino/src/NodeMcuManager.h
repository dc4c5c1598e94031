// NodeMcuManager: the Arduino (ESP8266) side of the Provisio device protocol, API as in the
// thesis' listing 4.1: constructor with the MQTT server, connect(), loopManager() from loop(),
// setCallbackInstall/Configure/Start/Stop/Uninstall. The decisions live in core/ManagerCore
// (plain C++, host-tested); this file only binds them to WiFi, MQTT (256dpi "MQTT" library,
// QoS 1, clean session off), ESP8266HTTPClient + Updater and LittleFS.
#pragma once

#include <Arduino.h>
#include <ESP8266WiFi.h>
#include <MQTT.h>

#include <deque>
#include <functional>
#include <string>

#include "core/ManagerCore.h"

class NodeMcuManager {
 public:
  // `mqttServer`: host name or IP of the broker (the NodeMCU template's pubSubServer without
  // the tcp:// prefix); the topics are the template's controlTopic and responseTopic.
  NodeMcuManager(const char* mqttServer, uint16_t port = 1883, const char* controlTopic = "control",
                 const char* responseTopic = "response");
  // As in the thesis' listing 4.1: `String mqttServer = "192.168.0.10"; ToscaManager tManager(mqttServer);`
  explicit NodeMcuManager(const String& mqttServer, uint16_t port = 1883, const char* controlTopic = "control",
                          const char* responseTopic = "response");

  // Connect to the broker (WiFi must be up), subscribe to the control topic, publish `online`,
  // and answer whatever the previous boot left to say (e.g. the install's `success`).
  bool connect();
  // Call from loop(): keeps MQTT alive, reconnects, handles one pending command.
  void loopManager();

  // Thesis style: pass a function with `&`, e.g. `tManager.setCallbackInstall(&install);`.
  void setCallbackInstall(std::function<void()> cb);
  // The callback gets the NodeMCU_App's appConfig text unchanged (a String, as in the thesis).
  void setCallbackConfigure(std::function<void(String appConfig)> cb);
  // Thesis style: the app starts its work; it cannot refuse.
  void setCallbackStart(void (*cb)());
  // Return false to refuse starting (the engine sees `error: app refused to start`).
  void setCallbackStart(std::function<bool()> cb);
  void setCallbackStop(std::function<void()> cb);
  void setCallbackUninstall(std::function<void()> cb);

  // Least time between two download progress messages (default 1000 ms, as the Rust agent):
  // a fast download reports none, a slow one about once per interval; 0: every 10 % step.
  void setProgressIntervalMs(uint32_t ms);

  // The hardware id (ESP.getChipId() in decimal, as the thesis' hardwareIds).
  const String& hardwareId() const { return id_; }
  // The last appConfig given by a configure command (empty when none).
  String appConfig() const;
  // Whether the engine started the app (and did not stop it).
  bool appRunning() const;
  // The MQTT client, for an app that publishes its own data.
  MQTTClient& mqtt() { return mqtt_; }

 private:
  class Glue;
  String server_;
  uint16_t port_;
  String control_;
  String response_;
  String status_;
  String id_;
  WiFiClient net_;
  MQTTClient mqtt_;
  Glue* glue_;
  tosca::ManagerCore* core_;
  bool booted_ = false;
  std::deque<std::string> pending_;  // commands received, handled one per loopManager()
  static NodeMcuManager* instance_;
  static void onMessage(MQTTClient* client, char topic[], char bytes[], int length);
};
