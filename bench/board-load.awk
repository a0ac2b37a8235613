# bench/board-load.awk: the load-cost table row of each example from the
# output of the firmware's `bench` command (bench/cortex-m-load.sh,
# bench/riscv-load.sh). Variables: board, arch (the row's first columns).
#   calib insns 100000 ticks T            ticks -> instructions
#   bench EX ram|xip loads N ticks T ram B desc D install_ticks I text .. data .. bss .. got ..
#   bench EX ram failed                   RAM mode does not fit this board
# XIP bound: data + bss + 4 x GOT entries + thunks (none) + 64.
/^calib / { per = $3 / $5 }
/^bench / && $3 == "ram" && $4 == "failed" { ram_t[$2] = -1 }
/^bench / && $3 == "ram" && $4 != "failed" { ram_t[$2] = $7; ram_b[$2] = $9 + $11; n = $5 }
/^bench / && $3 == "xip" {
    ex = $2; xt = $7; xb = $9 + $11
    bound = $17 + $19 + 4 * $21 + 64
    n = $5; xi = xt * per / n; inst = $13 * per
    if (ram_t[ex] < 0) { # RAM mode does not fit this board at all
        ok = (xb <= bound) ? "yes" : "NO"
        printf "%-7s %-10s %-10s %11s %11.0f %9s %9d %9d %7s %12.0f\n", board, arch, ex, "no RAM", xi, "-", xb, bound, ok, inst
        next
    }
    ri = ram_t[ex] * per / n
    ok = (xi < ri && xb <= bound) ? "yes" : "NO"
    printf "%-7s %-10s %-10s %11.0f %11.0f %9d %9d %9d %7s %12.0f\n", board, arch, ex, ri, xi, ram_b[ex], xb, bound, ok, inst
}
