/* softmax.c: being written. */
#include "core/err.h"
