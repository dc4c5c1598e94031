// Host stub (declarations only) of the 256dpi "MQTT" library API used by the manager.
#pragma once
#include "Arduino.h"
#include "ESP8266WiFi.h"
class MQTTClient;
typedef void (*MQTTClientCallbackAdvanced)(MQTTClient*, char[], char[], int);
class MQTTClient {
 public:
  explicit MQTTClient(int bufSize);
  void begin(const char* host, int port, WiFiClient& net);
  void setCleanSession(bool);
  void setKeepAlive(int);
  void setWill(const char* topic, const char* payload, bool retained, int qos);
  void onMessageAdvanced(MQTTClientCallbackAdvanced cb);
  bool connect(const char* clientId);
  bool subscribe(const String& topic, int qos);
  bool publish(const String& topic, const String& payload, bool retained, int qos);
  bool publish(const String& topic, const char* payload, bool retained, int qos);
  bool disconnect();
  bool loop();
  bool connected();
};
