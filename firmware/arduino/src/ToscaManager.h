// ToscaManager: the same manager under the name used by the OpenTOSCA examples.
#pragma once

#include "NodeMcuManager.h"

using ToscaManager = NodeMcuManager;
