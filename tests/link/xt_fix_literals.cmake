# cmake -DIN=x.s -DOUT=y.s -P xt_fix_literals.cmake: align each literal pool
# clang 22 emits for Xtensa (".p2align 2" before ".literal_position"), as
# natmod build does (tools/natmod/cmd_build.c, fix_literal_pools).
file(READ ${IN} text)
string(REPLACE "\t.literal_position" "\t.p2align 2\n\t.literal_position" text "${text}")
file(WRITE ${OUT} "${text}")
