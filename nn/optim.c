/* optim.c: being written. */
#include "core/err.h"
