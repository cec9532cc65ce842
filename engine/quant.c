/* placeholder: the type table lands with the quantizers */
#include "quant.h"
