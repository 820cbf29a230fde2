/* store.c: being written (see store.h). */
#include "store.h"
