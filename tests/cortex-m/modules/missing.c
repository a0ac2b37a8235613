/* missing: imports a function no firmware exports (a board test's bad input). */
#include "natmod/module.h"

int hal_not_on_this_board(int);

NM_EXPORT int missing(int x) {
    return hal_not_on_this_board(x);
}
