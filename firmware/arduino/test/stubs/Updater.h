// Host stub (declarations only), see Arduino.h.
#pragma once
#include "Arduino.h"
const int U_FLASH = 0;
struct UpdaterClass {
  bool begin(size_t, int);
  size_t write(uint8_t*, size_t);
  bool end(bool evenIfRemaining = false);
};
extern UpdaterClass Update;
