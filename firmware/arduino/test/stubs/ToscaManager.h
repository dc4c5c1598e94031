// Host stub: the sketch includes the library header by its Arduino name.
#pragma once
#include "../../src/ToscaManager.h"
