/* config.c: being written (see config.h). */
#include "config.h"
