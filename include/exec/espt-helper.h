/*
 * qemu-espt: the TCG helpers of jumps chained across guest pages
 * (accel/tcg/espt-chain.c, espt-check.c).  No include guard: like a
 * target's helper.h, it is read once per DEF_HELPER expansion (see
 * espt-chain.c for where it is included).
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

/* The miss path of a chained jump: look up its TB and link the slot. */
DEF_HELPER_FLAGS_2(espt_chain, TCG_CALL_NO_WG_SE, cptr, env, ptr)
/* The miss path of an inline lookup: the helper's, checking the state. */
DEF_HELPER_FLAGS_4(espt_lookup, TCG_CALL_NO_WG_SE, cptr, env, i64, i32, i64)
/* The checking mode: the TB a chained jump or inline hit enters. */
DEF_HELPER_FLAGS_2(espt_check_jump, TCG_CALL_NO_WG, void, env, cptr)
