/*
 * qemu-espt test guest: deterministic pseudo-random numbers (xorshift32,
 * the same sequence in every run and every mode), for guest programs
 * that include it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef ESPT_GUEST_RNG_H
#define ESPT_GUEST_RNG_H

#include <stdint.h>

static uint32_t rng_state = 12345;

static inline uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

#endif
