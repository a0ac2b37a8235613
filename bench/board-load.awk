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
#   ... got G [first_ticks F mount_ticks M check_ticks C check_bytes B again_ticks A]
#                                         the load after a fresh mount (its
#                                         pin checks the whole CRC), that
#                                         mount, and nm_store_check of the
#                                         whole store (B installed bytes),
#                                         then once more
/^bench / && $3 == "xip" {
    ex = $2; xt = $7; xb = $9 + $11
    bound = $17 + $19 + 4 * $21 + 64
    n = $5; xi = xt * per / n; inst = $13 * per
    first = ($22 == "first_ticks") ? sprintf("%11.0f", $23 * per) : sprintf("%11s", "-")
    if ($26 == "check_ticks") { check_i = $27 * per; check_b = $29; mount_i = $25 * per; again_i = $31 * per }
    if (ram_t[ex] < 0) { # RAM mode does not fit this board at all
        ok = (xb <= bound) ? "yes" : "NO"
        printf "%-7s %-10s %-10s %11s %11.0f %s %9s %9d %9d %7s %12.0f\n", board, arch, ex, "no RAM", xi, first, "-", xb, bound, ok, inst
        next
    }
    ri = ram_t[ex] * per / n
    ok = (xi < ri && xb <= bound) ? "yes" : "NO"
    printf "%-7s %-10s %-10s %11.0f %11.0f %s %9d %9d %9d %7s %12.0f\n", board, arch, ex, ri, xi, first, ram_b[ex], xb, bound, ok, inst
}
END {
    if (check_b > 0) {
        printf "%-7s %-10s store check of every module (%d bytes) after a mount: %.0f insns (%.1f a byte); again: %.0f (%.1f a byte); mount %.0f insns\n", board, arch, check_b, check_i, check_i / check_b, again_i, again_i / check_b, mount_i
    }
}
