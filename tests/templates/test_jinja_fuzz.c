#include "test_unit.h"
int main (void) { return 0; }
