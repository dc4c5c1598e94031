// Host stub (declarations only), see Arduino.h.
#pragma once
#include "ESP8266WiFi.h"
class HTTPClient {
 public:
  void setTimeout(uint16_t);
  bool begin(WiFiClient&, const String&);
  void collectHeaders(const char* keys[], size_t n);
  void addHeader(const String&, const String&);
  int GET();
  int getSize();
  String header(const char*);
  WiFiClient* getStreamPtr();
  bool connected();
  void end();
  static String errorToString(int);
};
