/* placeholder: implemented by its module's change */
#include <stddef.h>
